"""The registry of the 12 CRM failure patterns: the one place each pattern is defined.

Every part of the advisor that names a pattern reads it from here: the corpus checks that a
note's ``pattern`` is known, plan review takes each pattern's title, description, strength
wording, severities and open question, and its detector (the sentence classifier's head of
the same id, plus the plan-level ``structure`` checks named here), and the evals score
against the same ids. The patterns come from the five seed articles (see ``corpus/notes/``,
one note per pattern).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["high", "medium", "low"]


@dataclass(frozen=True)
class FailurePattern:
    """One failure pattern.

    ``severity`` is the red flag's severity when the plan shows the pattern with confidence;
    ``question`` is what the team must answer when the plan says nothing about it, and
    ``consequence`` ranks those questions (1 is asked first). ``structure`` names the
    plan-level checks in ``advisor.review.structure`` that a single sentence cannot show.
    ``roles`` marks the patterns about who leads or owns what, which a bare "who should run
    it instead?" after a review is about. A goal sentence with a figure that guards one of
    ``goal_guards`` guards this pattern too ("cut churn from 38% to 30% by 2027, measured
    monthly" is a measurement and a specific goal, though the classifier gives it one label).
    """

    id: str
    title: str
    description: str
    strength: str
    severity: Severity
    question: str
    consequence: int
    structure: tuple[str, ...] = ()
    roles: bool = False
    goal_guards: tuple[str, ...] = ()


REGISTRY: dict[str, FailurePattern] = {
    p.id: p
    for p in (
        FailurePattern(
            "goals_too_broad", "Goals too broad", "a vision with no tactical first steps",
            "specific goals", "medium",
            "What is the first specific, dated goal, and for which customers?", 8,
            goal_guards=("no_measurement",),
        ),
        FailurePattern(
            "strategy_too_generic", "Strategy too generic", "a copy of what works elsewhere",
            "a strategy of your own", "medium",
            "What do your own customers need that a borrowed approach would miss?", 12,
        ),
        FailurePattern(
            "software_first", "Software before strategy", "the tool chosen before the strategy",
            "strategy before software", "high",
            "Which requirements, agreed before the tool is chosen, will the CRM be judged by?", 9,
            ("tool_before_strategy",),
        ),
        FailurePattern(
            "poor_data_quality", "Poor data quality",
            "data that is not timely, accurate, valid or consistent", "data quality", "medium",
            "Who owns the customer data, and how is it cleaned before it moves?", 6,
        ),
        FailurePattern(
            "weak_integration", "Weak integration", "no organisation-wide view across systems",
            "integration", "medium",
            "Which other systems must the CRM connect to, so that everyone sees the whole "
            "customer?", 7,
        ),
        FailurePattern(
            "no_measurement", "No measurement",
            "no measurable objectives or ongoing ROI measurement", "measurement", "high",
            "Which figures will show that the CRM worked, from what baseline, reviewed how "
            "often?", 1,
        ),
        FailurePattern(
            "no_resources", "No resources set aside", "no time, budget or people set aside",
            "resourcing", "high",
            "What budget, people and time are set aside, and who covers their day jobs?", 3,
        ),
        FailurePattern(
            "it_only_ownership", "IT-only ownership",
            "treated as a technology project that IT carries", "business ownership", "high",
            "Which business leader owns the CRM project, with IT as the partner?", 2,
            roles=True,
        ),
        FailurePattern(
            "leadership_lip_service", "Leadership lip service",
            "management says the customer is king but does not act on it",
            "leaders who take part", "medium",
            "What will the leaders themselves do differently: use it, review it, change "
            "incentives?", 11,
            roles=True,
        ),
        FailurePattern(
            "ownership_politics", "Politics over who owns the customer",
            "departments fight over who owns the customer", "rules for who owns the customer",
            "medium", "Who owns the customer record after go-live, and who settles disputes?", 10,
            roles=True,
        ),
        FailurePattern(
            "big_bang_rollout", "Big-bang rollout", "no pilot and no bite-size stages",
            "a piloted, staged rollout", "high",
            "Where will you pilot first, and what must the pilot show before the next stage?", 4,
        ),
        FailurePattern(
            "no_ongoing_management", "No ongoing management", "no plan for after go-live",
            "a plan for after go-live", "medium",
            "Who runs, funds and improves the CRM after go-live?", 5,
        ),
    )
}  # fmt: skip
"""Every failure pattern by id, in the canonical order used by notes, reviews and evals."""

PATTERNS: dict[str, str] = {p.id: p.title for p in REGISTRY.values()}
"""Pattern id to display title (the shape the corpus, the API and the evals have always used)."""
