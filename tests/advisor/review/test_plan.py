"""Reading a pasted plan: validation, sentences and headings, and the cues they carry."""

from __future__ import annotations

import pytest

from advisor.errors import EmptyPlanError, InvalidInputError, PlanTooLongError, PlanTooShortError
from advisor.inputs import MAX_PLAN_CHARS, clean_plan
from advisor.review.plan import clauses_of, cues_of, parse_plan

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
    assert "goal" in plan.sentences[0].cues


def test_a_title_line_is_not_joined_to_the_sentence_under_it() -> None:
    plan = parse_plan(
        "Project Phoenix: CRM Transformation\nOur vision is one view of every customer.\n"
        "We will move the sales team onto the new CRM\nIn March, after training."
    )
    assert [s.text for s in plan.sentences] == [
        "Project Phoenix: CRM Transformation",
        "Our vision is one view of every customer.",
        "We will move the sales team onto the new CRM In March, after training.",
    ]


def test_a_documents_first_line_title_stands_alone() -> None:
    plan = parse_plan(
        "Project Atlas, prepared by Dr Jones for the board\n"
        "All regions will switch to the new CRM on 1 January."
    )
    assert [s.text for s in plan.sentences][-1] == (
        "All regions will switch to the new CRM on 1 January."
    )


def test_headings_and_bullets_give_context_not_sentences() -> None:
    plan = parse_plan("## Budget\n- To be confirmed later\n- Owner: Head of Sales\nTimeline\n* Q3")
    assert [s.section for s in plan.sentences] == ["Budget", "Budget"]
    assert plan.sentences[0].context == "Budget: To be confirmed later"


def test_a_numbered_heading_over_body_text_is_a_heading_not_part_of_the_sentence() -> None:
    plan = parse_plan(
        "1. Ownership and team\nThe Chief Commercial Officer owns the project.\n"
        "2. Steps\n3. Pilot in Leeds\n4. Everyone else in June."
    )
    texts = [s.text for s in plan.sentences]
    assert texts[0] == "The Chief Commercial Officer owns the project."
    assert plan.sentences[0].section == "Ownership and team"
    assert "Pilot in Leeds" in texts and "Everyone else in June." in texts


@pytest.mark.parametrize(
    ("text", "cue", "present"),
    [
        ("Our aim is to cut churn among members.", "goal", True),
        ("The steering group meets monthly.", "goal", False),
        ("We have already signed 500 Salesforce licences.", "tool_chosen", True),
        ("We will compare vendors next spring.", "tool_chosen", False),
        ("We listed our needs before we compared suppliers.", "strategy_first", True),
        ("The vendor's consultants start in May.", "strategy_first", False),
    ],
)
def test_cue_families(text: str, cue: str, present: bool) -> None:
    assert (cue in cues_of(text)) is present, sorted(cues_of(text))


def test_table_rows_and_chat_turns_stay_one_item_each() -> None:
    plan = parse_plan(
        "Workstream | Approach | Owner\n"
        "Data | Migrate as-is from the old system | IT\n"
        "Billing | Stays on its own platform, re-keyed monthly | Finance\n\n"
        "[09:02] Sam: ok so the CRM goes live for everyone on Monday?\n"
        "[09:03] Jo: yes, all 80 reps on day one\n"
    )
    texts = [s.text for s in plan.sentences]
    assert "Data | Migrate as-is from the old system | IT" in texts
    assert any(t.startswith("Billing |") for t in texts)
    assert any(t.startswith("[09:03] Jo: yes") for t in texts)
    assert not any("Billing" in t and "Data |" in t for t in texts)


def test_a_chat_thread_without_punctuation_is_one_item_per_line() -> None:
    plan = parse_plan(
        "quick one - I've just bought 25 seats on the annual plan\n"
        "we'll work out what we need once it's set up\n"
        "trial it with the 4 SDRs first so shout if anything breaks\n"
    )
    assert len(plan.sentences) == 3


def test_a_one_word_plan_is_told_in_the_singular() -> None:
    with pytest.raises(PlanTooShortError, match=r"the plan has 1 word; paste at least 12 words"):
        clean_plan("TBD")


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("Vision: the best bank in town - KPIs to be agreed later.", 2),
        ("Pilot in Leeds; the other offices follow in May.", 2),
        ("We looked at copying a rival, but built our own.", 0),  # a comma keeps its "but"
        ("Go-live - TBC.", 0),  # a clause of fewer than three words is no statement
        ("A well-run, year-long pilot in Leeds.", 0),  # an unspaced hyphen joins a word
    ],
)
def test_a_line_packing_several_statements_is_split_into_its_clauses(
    text: str, clauses: int
) -> None:
    assert len(clauses_of(text)) == clauses
    sentence = parse_plan(f"Rollout\n{text}").sentences[0]
    assert len(sentence.clauses) == clauses
    assert all(c.startswith("Rollout: ") for c in sentence.clauses)
