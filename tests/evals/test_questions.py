"""The question groups: well-formed, and the lead check reads the first cited sentence."""

from __future__ import annotations

import pytest

from advisor import QUESTION_TYPES, Answer
from evals.questions import SPLITS, lead_ok, load_split, stance_of

ARTICLES = {
    "accountability-users",
    "gartner-crm-summit-2000",
    "it-carries-the-can",
    "what-went-wrong",
    "why-crm-often-fails",
}
TYPES = {"answerable", "uncovered", "smalltalk", "other_language", "junk", "multi_turn"}


@pytest.mark.parametrize("split", SPLITS)
def test_each_split_is_well_formed(split: str) -> None:
    cases = load_split(split)
    assert len({c["id"] for c in cases}) == len(cases)
    assert {c["type"] for c in cases} <= TYPES
    items = [c for c in cases if c["type"] == "answerable"]
    items += [t for c in cases if c["type"] == "multi_turn" for t in c["turns"]]
    for item in items:
        assert item["qtype"] in QUESTION_TYPES, item
        assert set(item["expected_docs"]) <= ARTICLES, item
        assert item["key_points"], item


def test_the_held_out_group_has_sixty_questions_or_more() -> None:
    cases = load_split("heldout")
    asked = sum(len(c.get("turns", [c])) for c in cases)
    assert asked >= 60


def _answer(text: str) -> Answer:
    return Answer(answer=text, answered=True, conversation_id="c")


def test_lead_ok_reads_only_the_first_cited_sentence() -> None:
    text = "In short:\n- Pilot first, then widen in stages. [1]\n- No big bang. [2]"
    assert lead_ok(_answer(text), ["pilot"])
    assert not lead_ok(_answer(text), ["big bang"])
    assert lead_ok(_answer("- Over 55% of projects fail. [1]"), ["55 percent"])
    assert not lead_ok(Answer(answer="x", answered=False, conversation_id="c"), ["x"])


@pytest.mark.parametrize(
    ("text", "stance"),
    [
        ("In short:\n- Mostly no: the vendor is rarely the cause. [1]", "no"),
        ("In short:\n- Yes, provided the CIO acts as CRMO. [1]\n- No big bang. [2]", "yes"),
        ("In short:\n- Nobody owns the data today. [1]", ""),
        ("In short:\n- provided the CIO acts as CRMO. [1]", ""),
    ],
)
def test_stance_of_reads_the_verdict_the_first_sentence_opens_with(text: str, stance: str) -> None:
    assert stance_of(_answer(text)) == stance
