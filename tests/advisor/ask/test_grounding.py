"""The support check that the evals and the runtime guard share."""

from __future__ import annotations

import pytest

from advisor.ask.grounding import SupportChecker, cited_sentences, negated

PASSAGE = (
    "At Gartner’s CRM Summit 2000, currently underway in Chicago, industry analysts note "
    "that “through 2004, 55 percent of CRM initiatives will fail to meet measurable benefit "
    "objectives and will fail to affect positively the ROI due to lack of ongoing measurements."
)
OTHER = (
    "Data is key to any CRM system. In order to obtain the maximum benefit from a CRM "
    "system, timely, accurate and valid data must be available."
)


@pytest.fixture(scope="module")
def checker(embedder) -> SupportChecker:  # type: ignore[no-untyped-def]
    return SupportChecker(embedder)


def test_a_quoted_sentence_is_supported(checker: SupportChecker) -> None:
    sentence = (
        "Through 2004, 55 percent of CRM initiatives will fail to meet measurable benefit "
        "objectives."
    )
    verdict = checker.check(sentence, [PASSAGE])
    assert verdict.supported and verdict.score > 0.8


def test_a_paraphrase_is_supported(checker: SupportChecker) -> None:
    verdict = checker.check(
        "Gartner analysts said 55 percent of CRM initiatives would miss measurable benefit "
        "objectives through lack of ongoing measurements.",
        [PASSAGE],
    )
    assert verdict.supported


@pytest.mark.parametrize(
    ("sentence", "flag"),
    [
        ("Through 2004, 75 percent of CRM initiatives will fail to meet objectives.", "number"),
        ("At the summit in Boston, analysts noted CRM initiatives will fail.", "name"),
        (
            "Through 2004, CRM initiatives will not fail to meet measurable benefit objectives.",
            "neg",
        ),
        ("Timely, accurate and valid data must be available to a CRM system.", "other"),
    ],
)
def test_perturbed_sentences_are_not_supported(
    checker: SupportChecker, sentence: str, flag: str
) -> None:
    verdict = checker.check(sentence, [PASSAGE])
    assert not verdict.supported, verdict
    if flag == "number":
        assert "75" in verdict.missing_numbers
    if flag == "name":
        assert "Boston" in verdict.missing_names
    if flag == "neg":
        assert verdict.negation_mismatch


def test_support_is_joint_over_cited_passages(checker: SupportChecker) -> None:
    sentence = "Data is key to any CRM system."
    assert checker.supported(sentence, [PASSAGE, OTHER])
    assert not checker.supported(sentence, [PASSAGE])
    assert not checker.supported(sentence, [])


def test_negation_polarity() -> None:
    assert negated("IT cannot drive CRM alone.")
    assert not negated("IT can drive CRM.")
    assert not negated("It is not true that nothing works.")


def test_cited_sentences_parse_answers() -> None:
    text = "What the sources say:\n- First claim. [1]\n- Second claim. [2][3]\n\nNo marker here."
    assert cited_sentences(text) == [
        ("First claim.", [1]),
        ("Second claim.", [2, 3]),
        ("No marker here.", []),
    ]


@pytest.mark.parametrize(
    ("text", "negative"),
    [
        ("No: a broad CRM vision is fine, given first steps.", False),
        ("a broad CRM vision is fine, given first steps.", False),  # the same, verdict cut
        ("Not on its own: training helps when leaders act.", False),
        ("No, not necessarily: one firm recovered.", False),
        ("No pilot is planned.", True),  # "No" opening a statement, not a verdict
    ],
)
def test_an_opening_verdict_is_not_counted_as_a_negation(text: str, negative: bool) -> None:
    assert negated(text) is negative
