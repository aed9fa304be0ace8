"""Reading a pasted plan: validation, sentences and headings, and the cues they carry."""

from __future__ import annotations

import pytest

from advisor.errors import EmptyPlanError, InvalidInputError, PlanTooLongError, PlanTooShortError
from advisor.inputs import MAX_PLAN_CHARS, clean_plan
from advisor.review.plan import cues_of, parse_plan

PLAN = "Our goal is to cut churn among members from 30% to 25% by June 2027. " * 2


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        ("", EmptyPlanError),
        ("  \n\t ", EmptyPlanError),
        ("Buy Salesforce.", PlanTooShortError),
        ("x" * 10 + " " + "word " * (MAX_PLAN_CHARS // 5), PlanTooLongError),
        ("a plan\x00with a NUL " * 5, InvalidInputError),
        (42, InvalidInputError),
    ],
)
def test_bad_plans_are_refused_with_a_specific_error(plan: object, error: type) -> None:
    with pytest.raises(error):
        clean_plan(plan)


def test_the_limit_is_20000_characters_after_trimming() -> None:
    body = ("We will pilot the CRM with one team first. " * 500)[: MAX_PLAN_CHARS - 10]
    assert len(clean_plan(f"   {body}   \n\n\n")) <= MAX_PLAN_CHARS
    with pytest.raises(PlanTooLongError, match="20000"):
        clean_plan(body + "x" * 20)


def test_hard_wrapped_lines_are_joined_back_into_sentences() -> None:
    plan = parse_plan(
        "Objective: reduce churn among loyalty members from 38% to 30% by\n"
        "December 2027, measured monthly.\n\n"
        "The IT department will lead the project\nand own the platform."
    )
    texts = [s.text for s in plan.sentences]
    assert texts[0].startswith("Objective: reduce churn") and "December 2027" in texts[0]
    assert texts[1] == "The IT department will lead the project and own the platform."
    assert {"goal", "target", "timeframe"} <= plan.sentences[0].cues
    assert "owner_it" in plan.sentences[1].cues


def test_headings_and_bullets_give_context_not_sentences() -> None:
    plan = parse_plan("## Budget\n- To be confirmed later\n- Owner: Head of Sales\nTimeline\n* Q3")
    assert [s.section for s in plan.sentences] == ["Budget", "Budget"]
    assert "resources_bad" in plan.sentences[0].cues  # "Budget: To be confirmed" in context
    assert "owner_business" in plan.sentences[1].cues


@pytest.mark.parametrize(
    ("text", "cue", "present"),
    [
        ("IT will run the CRM project.", "owner_it", True),
        ("We will run it as a pilot and review it monthly.", "owner_it", False),
        ("The project is led by the CIO.", "owner_it", True),
        ("The Sales Director owns the programme.", "owner_business", True),
        ("All regions will switch to the new system on 1 September.", "big_bang", True),
        ("We go live everywhere on 1 March.", "big_bang", True),
        ("We will pilot in one region, then expand region by region.", "pilot", True),
        ("Existing staff will do it in their spare time.", "resources_bad", True),
        ("A budget of £1.2m and 4 dedicated FTE.", "money", True),
        ("We have already signed 500 Salesforce licences.", "tool_chosen", True),
        ("Each branch will keep its own contact lists.", "politics_bad", True),
        ("The billing system will stay separate.", "integration_bad", True),
        ("The project closes at go-live and the contractors roll off.", "project_end", True),
        ("We will migrate all existing records as-is and clean them later.", "data_bad", True),
    ],
)
def test_cue_families(text: str, cue: str, present: bool) -> None:
    assert (cue in cues_of(text)) is present, sorted(cues_of(text))
