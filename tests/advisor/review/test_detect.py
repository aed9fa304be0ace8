"""The plan-level reading of one pattern from its sentence probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from advisor.review.detect import (
    CLAUSE_FLOOR,
    LEANS_TO_FLAW,
    OUTWEIGHED_BY,
    SURE,
    read_pattern,
    with_clauses,
)
from advisor.review.plan import parse_plan

PLAN = parse_plan(
    "Go/no-go for wider rollout is decided later.\nPilot in two clinics for 12 weeks."
)


def _probs(flaw: float, guard: float) -> np.ndarray:
    """Sentence 0 leans to the flaw by ``flaw``; sentence 1 guards against it by ``guard``."""
    rows = [(flaw, 0.05), (0.02, guard)]
    return np.array([[1.0 - f - g, f, g] for f, g in rows], dtype=np.float32)


def test_an_unsure_flaw_is_outweighed_by_a_clear_safeguard() -> None:
    reading = read_pattern(PLAN, "big_bang_rollout", _probs(0.6, 0.95))
    assert reading.basis == "not_addressed"
    assert reading.leans_to_guard  # so it is not asked as an open question either


@pytest.mark.parametrize(
    ("flaw", "guard"),
    [(SURE, 0.95), (0.6, OUTWEIGHED_BY - 0.05)],
    ids=["a sure flaw", "a safeguard that is not clear enough"],
)
def test_a_sure_flaw_or_a_doubtful_safeguard_leaves_the_red_flag(flaw: float, guard: float) -> None:
    reading = read_pattern(PLAN, "big_bang_rollout", _probs(flaw, guard))
    assert reading.basis == "shown"
    assert reading.evidence[0] == 0


def test_a_partial_safeguard_is_not_a_strength_when_another_sentence_leans_to_the_flaw() -> None:
    # Sentence 1 clearly guards; sentence 0 leans to the flaw without showing it.
    reading = read_pattern(PLAN, "poor_data_quality", _probs(LEANS_TO_FLAW + 0.05, 0.86))
    assert reading.basis == "not_addressed"
    clean = read_pattern(PLAN, "poor_data_quality", _probs(LEANS_TO_FLAW - 0.05, 0.86))
    assert clean.basis == "addressed"
    assert clean.evidence == [1]


def _row(flaw: float, guard: float) -> list[list[float]]:
    return [[1.0 - flaw - guard, flaw, guard]]  # one pattern


@pytest.mark.parametrize(
    ("sentence", "clause", "expected"),
    [
        ((0.1, 0.0), (0.95, 0.0), SURE - 0.01),  # lifted, but never taken as sure
        ((0.1, 0.0), (CLAUSE_FLOOR - 0.05, 0.0), 0.1),  # an unsure clause adds nothing
        ((0.1, 0.8), (0.95, 0.0), 0.1),  # the whole sentence is a safeguard: it stands
        ((0.9, 0.0), (0.95, 0.0), 0.9),  # a surer sentence reading is kept
    ],
    ids=["sure-clause", "unsure-clause", "sentence-guards", "sentence-surer"],
)
def test_a_clause_lifts_its_sentence_flaw_reading(
    sentence: tuple[float, float], clause: tuple[float, float], expected: float
) -> None:
    read = np.array([_row(*sentence), _row(*clause)], dtype=np.float32)
    out, source = with_clauses(read, owners=[0])
    assert out.shape == (1, 1, 3) and source.shape == (1, 1)
    assert out[0, 0, 1] == pytest.approx(expected)
    assert source[0, 0] == (0 if expected != sentence[0] else -1)  # the clause it came from
    assert out[0, 0, 2] == pytest.approx(sentence[1])


@pytest.mark.parametrize(
    ("sentence", "clause", "expected"),
    [
        ((0.05, 0.1), (0.0, 0.9), 0.9),  # "…; pilot in one region first; …" guards
        ((0.3, 0.1), (0.0, 0.9), 0.1),  # a line leaning to the flaw is no safeguard
        ((0.05, 0.1), (0.0, 0.3), 0.1),  # an unsure clause adds nothing
    ],
    ids=["sure-clause", "sentence-leans-to-flaw", "unsure-clause"],
)
def test_a_clause_lifts_its_sentence_guard_reading(
    sentence: tuple[float, float], clause: tuple[float, float], expected: float
) -> None:
    read = np.array([_row(*sentence), _row(*clause)], dtype=np.float32)
    out, _ = with_clauses(read, owners=[0])
    assert out[0, 0, 2] == pytest.approx(expected)
