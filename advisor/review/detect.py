"""Failure-pattern detection in a parsed plan, offline: cues, structure and semantics combined.

Each pattern has a small assessor that gathers *bad* signals (the plan shows the failure)
and *good* signals (the plan guards against it), each with a weight and a reason. Three
kinds of signal feed them: the plan's cues (``advisor.review.plan``), its structure (what comes
first, what is absent altogether), and each sentence's similarity to the pattern's advice
note: closer to "What it looks like" and "How to spot it" than to "What to do instead",
and closer to this pattern than to the others. ``decide`` turns the signals into a
severity. Nothing here is tied to any one plan; the weights were set once on the tuned
plans in ``evals/plans/`` and are checked on the held-out ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from advisor.review.plan import Plan, PlanSentence

STRONG, MEDIUM, WEAK = 1.0, 0.6, 0.35
SEMANTIC_FLOOR = 0.5  # cosine to a failure description that counts as resemblance
SEMANTIC_MARGIN = 0.04  # how much closer to the failure than to the remedy, and to rivals
CLASSIFIER_FLOOR = 0.5  # least probability of a reading for it to count


@dataclass
class Signal:
    """One piece of evidence for or against a pattern."""

    weight: float
    reason: str
    sentences: list[int] = field(default_factory=list)


@dataclass
class Assessment:
    """The signals gathered for one pattern, and its severity when the plan is silent."""

    pattern: str
    bad: list[Signal] = field(default_factory=list)
    good: list[Signal] = field(default_factory=list)
    silent: str = "low"  # severity when there is no signal either way: high, medium, low, none
    silent_reason: str = "the plan does not address it"

    def add_bad(self, weight: float, reason: str, found: list[PlanSentence]) -> None:
        """Record a bad signal backed by these sentences (ignored when there are none)."""
        if found:
            # The same failure stated in several places is surer than one passing mention.
            weight = min(1.0, weight + 0.1 * min(len(found) - 1, 2))
            self.bad.append(Signal(weight, reason, [s.index for s in found]))

    def add_good(self, weight: float, reason: str, found: list[PlanSentence]) -> None:
        """Record a good signal backed by these sentences (ignored when there are none)."""
        if found:
            self.good.append(Signal(weight, reason, [s.index for s in found]))


@dataclass
class Decision:
    """The verdict on one pattern."""

    pattern: str
    severity: str | None  # high, medium, low, or None when the plan handles it
    basis: str  # shown, not_addressed or addressed
    score: float
    evidence: list[int]
    reasons: list[str]


def combine(signals: list[Signal]) -> float:
    """Strongest signal plus a little for each further independent one, capped at 1."""
    if not signals:
        return 0.0
    weights = sorted((s.weight for s in signals), reverse=True)
    return min(1.0, weights[0] + 0.15 * sum(weights[1:3]))


def decide(a: Assessment) -> Decision:
    """Severity from the balance of bad and good signals, or the pattern's silent severity."""
    bad, good = combine(a.bad), combine(a.good)
    reasons = [s.reason for s in sorted(a.bad, key=lambda s: -s.weight)]
    evidence = [i for s in sorted(a.bad, key=lambda s: -s.weight) for i in s.sentences]
    evidence = list(dict.fromkeys(evidence))
    net = bad - 0.5 * good
    if bad >= 0.5:
        severity = "high" if net >= 0.85 else "medium" if net >= 0.45 else "low"
        return Decision(a.pattern, severity, "shown", round(net, 3), evidence, reasons)
    good_evidence = list(dict.fromkeys(i for s in a.good for i in s.sentences))
    if good >= 0.5:
        return Decision(a.pattern, None, "addressed", round(good, 3), good_evidence, [])
    if good > 0:
        return Decision(
            a.pattern, "low", "not_addressed", round(0.3 - good / 2, 3), [],
            [f"only partly addressed: {a.good[0].reason}"],
        )  # fmt: skip
    score = {"high": 0.9, "medium": 0.6, "low": 0.3}.get(a.silent, 0.0)
    silent = None if a.silent == "none" else a.silent
    return Decision(a.pattern, silent, "not_addressed", score, [], [a.silent_reason])


@dataclass
class Semantics:
    """Each plan sentence's resemblance to each pattern's failure and remedy descriptions."""

    patterns: list[str]
    failure: np.ndarray  # sentences x patterns: best cosine to "looks like" / "how to spot"
    remedy: np.ndarray  # sentences x patterns: best cosine to "what to do instead"
    labels: np.ndarray | None = None  # sentences x patterns x (neutral, flaw, guard) probs

    def resembles_failure(self, plan: Plan, pattern: str) -> list[PlanSentence]:
        """Sentences closer to this pattern's failure than to its remedy and to other patterns."""
        if not self.patterns or pattern not in self.patterns:
            return []
        j = self.patterns.index(pattern)
        out = []
        for s in plan.sentences:
            f, r = self.failure[s.index], self.remedy[s.index]
            rivals = np.delete(np.maximum(f, r), j)
            if (
                f[j] >= SEMANTIC_FLOOR
                and f[j] >= r[j] + SEMANTIC_MARGIN
                and f[j] >= rivals.max() + SEMANTIC_MARGIN
            ):
                out.append(s)
        return out

    def closeness(self, index: int, pattern: str) -> float:
        """How close one sentence is to the pattern (failure or remedy), for ranking evidence."""
        if pattern not in self.patterns:
            return 0.0
        j = self.patterns.index(pattern)
        return float(max(self.failure[index, j], self.remedy[index, j]))


def _no_number(s: PlanSentence) -> bool:
    return not s.has("target", "money", "timeframe")


def goals_too_broad(plan: Plan, sem: Semantics) -> Assessment:
    """Vision with no tactical first steps."""
    a = Assessment("goals_too_broad", silent="low", silent_reason="no specific goal is stated")
    goals = plan.with_cue("goal") or plan.sentences[:1]
    broad = [s for s in goals if s.has("broad_scope", "grand_vision") and _no_number(s)]
    both = [s for s in broad if s.has("broad_scope") and s.has("grand_vision")]
    a.add_bad(STRONG, "the headline goal is sweeping and has no number or date", both)
    a.add_bad(MEDIUM, "a goal is broad and has no number or date", broad)
    specific = [s for s in goals if s.has("target") and s.has("timeframe")]
    steps = plan.with_cue("first_step")
    a.add_good(STRONG, "a goal has a target and a date", specific)
    a.add_good(WEAK, "first steps are named", steps)
    if broad and not specific and not steps:
        a.add_bad(MEDIUM, "no first tactical step is named", broad[:1])
    a.add_bad(
        MEDIUM, "reads like a vision with no first steps", sem.resembles_failure(plan, a.pattern)
    )
    return a


def strategy_too_generic(plan: Plan, sem: Semantics) -> Assessment:
    """A copy of what works elsewhere."""
    a = Assessment("strategy_too_generic", silent="low",
                   silent_reason="nothing says what is specific to your customers")  # fmt: skip
    generic = plan.with_cue("generic")
    copying = generic
    a.add_bad(STRONG if len(copying) > 1 else MEDIUM, "borrows another firm's or the vendor's "
              "approach instead of one built on your customers", copying)  # fmt: skip
    a.add_good(MEDIUM, "grounded in your own customers' needs", plan.with_cue("insight"))
    a.add_bad(MEDIUM, "resembles a copied strategy", sem.resembles_failure(plan, a.pattern))
    return a


def software_first(plan: Plan, sem: Semantics) -> Assessment:
    """The tool chosen before the strategy."""
    a = Assessment("software_first", silent="none")
    chosen = [s for s in plan.with_cue("tool_chosen") if s.has("tool")]
    first_strategy = plan.first("strategy_first")
    # Strategy in the same or the next sentence ("we listed our needs, then chose X") counts.
    unguided = [s for s in chosen if first_strategy is None or first_strategy > s.index + 1]
    a.add_bad(STRONG if first_strategy is None else MEDIUM,
              "the tool is chosen before any strategy or requirements", unguided)  # fmt: skip
    a.add_bad(MEDIUM, "expects the software to solve the problem", plan.with_cue("tool_will_fix"))
    guarded = [s for s in plan.with_cue("strategy_first") if not s.has("tool_chosen")]
    a.add_good(MEDIUM, "strategy and requirements come before the tool", guarded)
    a.add_bad(WEAK, "resembles technology-led planning", sem.resembles_failure(plan, a.pattern))
    return a


def poor_data_quality(plan: Plan, sem: Semantics) -> Assessment:
    """Data not timely, accurate, valid or consistent."""
    mentions = plan.with_cue("data_mention")
    a = Assessment("poor_data_quality", silent="medium" if mentions else "low",
                   silent_reason="no data cleansing, standards or data owner")  # fmt: skip
    unchecked = [s for s in plan.with_cue("data_bad") if s.has("data_move")]
    a.add_bad(STRONG, "data is moved or kept without checking its quality", unchecked)
    a.add_good(STRONG, "data quality work is planned", plan.with_cue("data_good"))
    a.add_bad(WEAK, "resembles a data-quality risk", sem.resembles_failure(plan, a.pattern))
    return a


def weak_integration(plan: Plan, sem: Semantics) -> Assessment:
    """No organisation-wide view across systems."""
    others = plan.with_cue("other_systems")
    a = Assessment("weak_integration", silent="medium" if others else "low",
                   silent_reason="no plan to connect the CRM to the other systems")  # fmt: skip
    a.add_bad(STRONG, "systems stay separate, so nobody sees the whole customer",
              plan.with_cue("integration_bad"))  # fmt: skip
    good = [s for s in plan.with_cue("integration_good") if not s.has("integration_bad")]
    a.add_good(STRONG, "the CRM is connected to the other systems", good)
    a.add_bad(WEAK, "resembles an integration gap", sem.resembles_failure(plan, a.pattern))
    return a


def no_measurement(plan: Plan, sem: Semantics) -> Assessment:
    """No measurable objectives or ongoing ROI measurement."""
    a = Assessment("no_measurement", silent="high",
                   silent_reason="no target, baseline or KPI anywhere in the plan")  # fmt: skip
    targets = [s for s in plan.with_cue("target") if not s.has("money", "people")]
    tracked = [s for s in plan.with_cue("kpi", "baseline") if s.has("cadence", "baseline")]
    vague = [
        s for s in plan.with_cue("vague_benefit") if s.has("outcome") and not s.has("target", "kpi")
    ]
    delivery = [
        s
        for s in plan.with_cue("it_framing")
        if s.has("goal", "kpi") or "success" in s.text.lower()
    ]
    a.add_good(MEDIUM, "objectives carry numeric targets", targets)
    a.add_good(MEDIUM, "a baseline or a reporting rhythm is set", tracked)
    if not targets:
        a.add_bad(MEDIUM, "benefits are promised with no figure", vague)
        a.add_bad(MEDIUM, "success is defined as delivering the system", delivery)
    if not targets and not tracked:
        a.add_bad(STRONG if vague else MEDIUM, "no target, baseline or KPI anywhere", vague[:2])
    a.add_bad(WEAK, "resembles unmeasured benefits", sem.resembles_failure(plan, a.pattern))
    return a


def no_resources(plan: Plan, sem: Semantics) -> Assessment:
    """No time, budget or people set aside."""
    a = Assessment("no_resources", silent="medium",
                   silent_reason="no budget, people or time is set aside")  # fmt: skip
    a.add_bad(
        STRONG, "the work is unfunded or squeezed into day jobs", plan.with_cue("resources_bad")
    )
    money = [s for s in plan.with_cue("money") if not s.has("resources_bad")]
    people = [s for s in plan.with_cue("people") if not s.has("resources_bad")]
    a.add_good(MEDIUM, "a budget is set", money)
    a.add_good(MEDIUM, "people are dedicated to it", people)
    a.add_bad(WEAK, "resembles an under-resourced plan", sem.resembles_failure(plan, a.pattern))
    return a


def it_only_ownership(plan: Plan, sem: Semantics) -> Assessment:
    """Treated as a technology project that IT carries."""
    a = Assessment("it_only_ownership", silent="medium", silent_reason="no business owner is named")
    it_owned = plan.with_cue("owner_it")
    business = [s for s in plan.with_cue("owner_business") if not s.has("owner_it")]
    partner = [s for s in it_owned if s.has("owner_business")]
    it_owned = [s for s in it_owned if not s.has("owner_business")]
    # IT named as a partner beside a business owner is the remedy, not the failure.
    it_owned = [s for s in it_owned if not (business and "partner" in s.text.lower())]
    passive = [s for s in plan.with_cue("business_passive") if s.has("business_word")]
    a.add_bad(STRONG if not business else MEDIUM, "IT leads the project", it_owned)
    a.add_bad(MEDIUM, "framed as a technology project", plan.with_cue("it_framing"))
    a.add_bad(MEDIUM, "the business is only consulted", passive)
    a.add_good(STRONG, "a business leader owns it", business)
    a.add_good(MEDIUM, "business and IT share ownership", partner)
    a.add_bad(WEAK, "resembles an IT-led project", sem.resembles_failure(plan, a.pattern))
    return a


def leadership_lip_service(plan: Plan, sem: Semantics) -> Assessment:
    """Management says "customer is king" but does not act on it."""
    a = Assessment("leadership_lip_service", silent="low",
                   silent_reason="nothing says what the leaders themselves will do")  # fmt: skip
    slogans, active = plan.with_cue("slogan"), plan.with_cue("exec_active")
    passive = plan.with_cue("exec_passive", "exec_passive_any")
    a.add_bad(STRONG if passive or not active else WEAK, "a customer slogan without leaders "
              "acting on it", slogans)  # fmt: skip
    a.add_bad(STRONG if slogans else MEDIUM, "leaders stay at arm's length", passive)
    a.add_good(STRONG, "leaders take part or incentives change", active)
    a.add_bad(WEAK, "resembles leadership at arm's length", sem.resembles_failure(plan, a.pattern))
    return a


def ownership_politics(plan: Plan, sem: Semantics) -> Assessment:
    """Departments fight over who owns the customer."""
    a = Assessment("ownership_politics", silent="low",
                   silent_reason="no rule for who owns each customer record")  # fmt: skip
    a.add_bad(
        STRONG, "departments keep or claim their own customers", plan.with_cue("politics_bad")
    )
    a.add_bad(MEDIUM, "nobody has settled who owns the customer", plan.with_cue("politics_more"))
    a.add_good(MEDIUM, "governance settles ownership", plan.with_cue("politics_good"))
    a.add_bad(MEDIUM, "resembles a fight over the customer", sem.resembles_failure(plan, a.pattern))
    return a


def big_bang_rollout(plan: Plan, sem: Semantics) -> Assessment:
    """No pilot and no bite-size stages."""
    rollout = plan.with_cue("rollout")
    a = Assessment("big_bang_rollout", silent="medium" if rollout else "low",
                   silent_reason="no pilot or stages are planned")  # fmt: skip
    bang = [s for s in plan.with_cue("big_bang") if not s.has("pilot")]
    a.add_bad(STRONG, "everyone switches over at once", bang)
    a.add_good(STRONG, "a pilot or stages come first", plan.with_cue("pilot"))
    a.add_bad(MEDIUM, "resembles a big-bang rollout", sem.resembles_failure(plan, a.pattern))
    return a


def no_ongoing_management(plan: Plan, sem: Semantics) -> Assessment:
    """No plan for after go-live."""
    a = Assessment("no_ongoing_management", silent="medium",
                   silent_reason="nothing is planned for after go-live")  # fmt: skip
    ends = [s for s in plan.with_cue("project_end")]
    a.add_bad(STRONG, "the effort stops at go-live", ends)
    a.add_good(STRONG, "work continues after go-live", plan.with_cue("after_golive"))
    a.add_bad(WEAK, "resembles a plan that ends at launch", sem.resembles_failure(plan, a.pattern))
    return a


ASSESSORS: dict[str, Callable[[Plan, Semantics], Assessment]] = {
    f.__name__: f
    for f in (
        goals_too_broad,
        strategy_too_generic,
        software_first,
        poor_data_quality,
        weak_integration,
        no_measurement,
        no_resources,
        it_only_ownership,
        leadership_lip_service,
        ownership_politics,
        big_bang_rollout,
        no_ongoing_management,
    )
}
"""One assessor per failure pattern, by pattern id."""


def detect(plan: Plan, sem: Semantics) -> list[Decision]:
    """A decision for every pattern, in the patterns' canonical order."""
    decisions = []
    for assess in ASSESSORS.values():
        a = assess(plan, sem)
        if sem.labels is not None and a.pattern in sem.patterns:
            read_polarity(a, plan, sem.labels[:, sem.patterns.index(a.pattern)])
        decisions.append(decide(a))
    return decisions


def read_polarity(a: Assessment, plan: Plan, probs: np.ndarray) -> None:
    """Let the sentence classifier's reading (n x 3 probabilities) overrule the cues' polarity.

    A sentence the classifier reads as showing the flaw no longer counts as guarding
    against it ("there is no pilot" mentions a pilot), and one it reads as guarding no
    longer counts as showing it; then its confident readings become signals of their own.
    """
    flaw = {s.index for s in plan.sentences if probs[s.index, 1] >= CLASSIFIER_FLOOR}
    guard = {s.index for s in plan.sentences if probs[s.index, 2] >= CLASSIFIER_FLOOR}
    a.good = _without(a.good, flaw)
    a.bad = _without(a.bad, guard)
    for label, found, add in ((1, flaw, a.add_bad), (2, guard, a.add_good)):
        sure = [s for s in plan.sentences if s.index in found and probs[s.index, label] >= 0.8]
        rest = [s for s in plan.sentences if s.index in found and probs[s.index, label] < 0.8]
        what = "shows it" if label == 1 else "guards against it"
        add(STRONG, f"reads as a sentence that {what}", sure)
        add(MEDIUM, f"may be a sentence that {what}", rest)


def _without(signals: list[Signal], drop: set[int]) -> list[Signal]:
    """The signals with the dropped sentences taken out (a signal left with none goes)."""
    kept = []
    for signal in signals:
        left = [i for i in signal.sentences if i not in drop]
        if left or not signal.sentences:
            kept.append(Signal(signal.weight, signal.reason, left))
    return kept
