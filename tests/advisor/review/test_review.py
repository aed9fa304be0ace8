"""Plan review end to end in the core: real model, real Chroma, a real conversation store."""

from __future__ import annotations

import re

import pytest

from advisor.ask.grounding import cited_sentences
from advisor.config import PROJECT_ROOT
from advisor.errors import NotAPlanError, PlanTooShortError, TurnNotFoundError
from advisor.facade import Advisor
from advisor.knowledge.corpus import load_corpus
from advisor.patterns import PATTERNS, REGISTRY

FLAWED = """CRM Programme 2027

Our vision is to transform every customer relationship across all departments and become
the most customer-centric insurer in the country.

The new CRM will improve customer satisfaction and loyalty and give us better insight.

The IT department will lead the project and own the platform. Sales, claims and service
managers will be consulted on requirements.

All regions and all channels will switch to the new system on 1 September.
The work will be done by existing staff alongside their day jobs. Budget to be confirmed.
"""

GOOD = """Objective: reduce repeat-purchase churn among loyalty-card members from 38% to 30% by
December 2027, measured monthly against the baseline we record from January to March.

Owner: the Retail Director is executive sponsor and chairs a fortnightly steering group with
marketing, stores, e-commerce and IT. IT owns the platform and integration; the business owns
processes, adoption and benefits.

Before choosing any tool we will interview 40 lapsed members and write requirements.
A two-month data cleanse will remove duplicate member records, and the CRM will be integrated
with the till system and the web shop. Budget of £1.2m is approved, with 4 dedicated FTE.
We will pilot in one region for three months with go/no-go criteria, then expand region by
region. After go-live a permanent CRM team stays, and finance recalculates ROI every quarter.
"""


@pytest.fixture(scope="module")
def reviewed(index_dir, embedder, tmp_path_factory):  # type: ignore[no-untyped-def]
    """One advisor and the review of the flawed plan, shared by the read-only tests."""
    from advisor.config import Settings

    db = tmp_path_factory.mktemp("review") / "conv.db"
    advisor = Advisor(
        Settings(data_dir=index_dir, database_url=f"sqlite:///{db}"), embedder=embedder
    )
    return advisor, advisor.review(FLAWED)


def test_findings_name_the_patterns_the_plan_shows(reviewed) -> None:  # type: ignore[no-untyped-def]
    _, review = reviewed
    severity = {f.pattern: f.severity for f in review.red_flags}
    for pattern in ("goals_too_broad", "it_only_ownership", "big_bang_rollout", "no_resources"):
        assert pattern in severity, (pattern, severity)
    for pattern in ("it_only_ownership", "big_bang_rollout"):
        assert severity[pattern] == "high", (pattern, severity)
    assert set(severity) <= set(PATTERNS)
    assert review.verdict == "not ready" and review.readiness < 50
    assert len(review.open_questions) <= 3
    assert all(f.question.endswith("?") for f in review.open_questions)
    assert all(0.0 < f.confidence <= 1.0 for f in review.findings)


def test_evidence_is_the_plans_own_words(reviewed) -> None:  # type: ignore[no-untyped-def]
    _, review = reviewed
    flat = " ".join(FLAWED.split())
    by_pattern = {f.pattern: f for f in review.findings}
    assert any("IT department will lead" in e for e in by_pattern["it_only_ownership"].evidence)
    assert any("switch to the new system" in e for e in by_pattern["big_bang_rollout"].evidence)
    for f in review.findings:
        if f.basis == "shown":
            assert all(e in flat for e in f.evidence), f.evidence
        else:
            assert f.evidence == ["not addressed"]


def test_why_and_fix_quote_cited_passages_verbatim(reviewed) -> None:  # type: ignore[no-untyped-def]
    _, review = reviewed
    quotes = {c.n: c.quote for c in review.citations}
    assert [c.n for c in review.citations] == list(range(1, len(review.citations) + 1))
    for f in review.findings:
        for field in (f.why, f.fix):
            pairs = cited_sentences(field)
            assert pairs, field
            for sentence, ns in pairs:
                assert ns and all(n in quotes for n in ns), field
                assert any(sentence.strip('"“”') in quotes[n] for n in ns), sentence
        # The fix comes from the pattern's own advice note.
        fix_docs = {review.citations[n - 1].doc_id for _, ns in cited_sentences(f.fix) for n in ns}
        assert fix_docs == {"note-" + f.pattern.replace("_", "-")}


def test_numbering_follows_the_order_findings_are_shown(reviewed) -> None:  # type: ignore[no-untyped-def]
    _, review = reviewed
    seen = [int(n) for f in review.findings for n in re.findall(r"\[(\d+)\]", f.why + f.fix)]
    firsts = list(dict.fromkeys(seen))
    assert firsts == sorted(firsts)


def test_a_vague_goal_is_restated_from_the_plans_subject(reviewed) -> None:  # type: ignore[no-untyped-def]
    _, review = reviewed
    goal = review.goal_rewrite
    assert goal is not None
    assert goal.original.startswith("Our vision is to transform every customer relationship")
    assert "relationship" in goal.subject
    assert "Net Promoter Score" in goal.rewrite and "baseline" in goal.rewrite
    assert re.search(r"\bby N\b", goal.rewrite) and goal.fill_in


def test_a_good_plan_gets_no_high_finding(advisor: Advisor) -> None:
    review = advisor.review(GOOD)
    assert not [f for f in review.findings if f.severity == "high"], review.findings
    assert review.readiness >= 75 and review.verdict == "ready"
    assert review.goal_rewrite is None
    covered = {s.pattern for s in review.strengths}
    assert {"no_measurement", "no_resources", "big_bang_rollout", "poor_data_quality"} <= covered


def test_a_churn_goal_is_rewritten_around_churn(advisor: Advisor) -> None:
    plan = (
        "Our aim is to improve loyalty and stop members leaving. We will pilot with the "
        "Leeds branch for three months. The membership director owns it, with a budget of £90k."
    )
    review = advisor.review(plan)
    assert review.goal_rewrite is not None
    assert "retention rate" in review.goal_rewrite.rewrite
    assert "the Leeds branch" in review.goal_rewrite.rewrite


def test_the_same_plan_gets_the_same_review(reviewed) -> None:  # type: ignore[no-untyped-def]
    advisor, review = reviewed
    again = advisor.review(FLAWED)
    strip = {"conversation_id", "turn"}
    assert again.model_dump(exclude=strip) == review.model_dump(exclude=strip)


def test_the_review_is_a_turn_of_its_conversation(reviewed) -> None:  # type: ignore[no-untyped-def]
    advisor, review = reviewed
    turns = advisor.conversation(review.conversation_id)
    first = next(t for t in turns if t.turn == review.turn)
    assert first.review is not None and first.review.findings == review.findings
    assert first.question.endswith(FLAWED.strip())
    assert first.answer.answer == review.text and first.answer.citations == review.citations


@pytest.mark.parametrize(
    ("follow_up", "pattern", "doc"),
    [
        ("why is that too broad?", "goals_too_broad", "note-goals-too-broad"),
        ("how do we fix the measurement gap?", "no_measurement", "note-no-measurement"),
        ("Who should own it instead?", "it_only_ownership", "note-it-only-ownership"),
        ("who should run it then?", "it_only_ownership", "note-it-only-ownership"),
    ],
)
def test_follow_ups_are_answered_in_the_reviews_context(
    advisor: Advisor, follow_up: str, pattern: str, doc: str
) -> None:
    review = advisor.review(FLAWED)
    answer = advisor.ask(follow_up, review.conversation_id)
    finding = next(f for f in review.findings if f.pattern == pattern)
    assert answer.answered
    assert answer.answer.startswith(f"On your plan's “{finding.title}” finding")
    assert REGISTRY[pattern].description in answer.standalone_question
    # The pattern's note, or a direct-answer entry on the same pattern, is cited.
    cited = {c.doc_id for c in answer.citations}
    entries = {d.id: d.meta.get("topic") for d in load_corpus(PROJECT_ROOT / "corpus")}
    assert doc in cited or any(entries.get(d) == pattern for d in cited), cited


@pytest.mark.parametrize(
    ("follow_up", "pattern", "wanted"),
    [
        ("who should run it instead?", "it_only_ownership", "business"),
        ("how should we roll it out instead?", "big_bang_rollout", "pilot"),
        ("why is that too broad?", "goals_too_broad", "tactical steps"),
    ],
)
def test_a_follow_up_asking_what_to_do_leads_with_the_remedy(
    advisor: Advisor, follow_up: str, pattern: str, wanted: str
) -> None:
    # "instead" and "who" ask for the safeguard; "why" asks about the finding itself.
    review = advisor.review(FLAWED)
    answer = advisor.ask(follow_up, review.conversation_id)
    lead = next(line for line in answer.answer.splitlines() if line.startswith("- "))
    assert wanted in lead.lower(), answer.answer
    remedy = REGISTRY[pattern].strength
    assert (remedy in answer.standalone_question) == (not follow_up.startswith("why"))


def test_an_unrelated_question_after_a_review_is_not_bent_to_it(advisor: Advisor) -> None:
    review = advisor.review(FLAWED)
    answer = advisor.ask("What is the capital of Australia?", review.conversation_id)
    assert not answer.answered and "On your plan" not in answer.answer


def test_a_review_can_be_carried_into_another_conversation(advisor: Advisor) -> None:
    review = advisor.review(FLAWED)
    copy = advisor.share_review(review.conversation_id, review.turn, into="slack:T1:C1:1.0")
    assert copy.conversation_id == "slack:T1:C1:1.0" and copy.turn == 1
    answer = advisor.ask("why is that too broad?", "slack:T1:C1:1.0")
    assert answer.answer.startswith("On your plan's “Goals too broad”")
    with pytest.raises(TurnNotFoundError):
        advisor.share_review(review.conversation_id, review.turn + 5, into="x1")


def test_a_too_short_plan_is_refused_and_nothing_is_stored(advisor: Advisor) -> None:
    with pytest.raises(PlanTooShortError):
        advisor.review("Buy HubSpot.", "c-short")
    assert not advisor.store.exists("c-short")


@pytest.mark.parametrize(
    "text",
    [
        "Preheat the oven to 180C. Cream the butter and sugar, beat in the eggs and fold in the "
        "flour. Bake for 25 minutes and leave it to cool before icing.",
        "Employees with six months' service may take 26 weeks of parental leave at full pay. "
        "Requests go to the line manager eight weeks ahead. HR owns and reviews the policy.",
    ],
    ids=["recipe", "hr-policy"],
)
def test_a_text_that_is_no_crm_plan_is_refused_and_nothing_is_stored(
    advisor: Advisor, text: str
) -> None:
    with pytest.raises(NotAPlanError, match="doesn't read as a CRM plan"):
        advisor.review(text, "c-off", start=True)
    assert not advisor.store.exists("c-off")


def test_a_terse_plan_that_never_says_crm_is_still_reviewed(advisor: Advisor) -> None:
    review = advisor.review(
        "Move the reps off spreadsheets onto HubSpot in Q2. Sales ops owns it; "
        "we pilot with the Leeds team first."
    )
    assert review.summary.startswith("Readiness")  # reviewed, not refused as off-topic


@pytest.mark.parametrize(
    ("title", "inside"),
    [("Software before strategy", "software before strategy"),
     ("IT-only ownership", "IT-only ownership")],
)  # fmt: skip
def test_a_title_inside_the_summary_keeps_its_acronym(title: str, inside: str) -> None:
    from advisor.review.render import _lower_first

    assert _lower_first(title) == inside
