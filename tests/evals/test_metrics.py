"""Metric functions against hand-computed values."""

from __future__ import annotations

import math

import pytest

from evals import metrics as m
from evals.perturb import negate, swap_entity, swap_number


def test_ranking_metrics() -> None:
    ranking = m.doc_ranking(["b", "b", "a", "c"])
    assert ranking == ["b", "a", "c"]
    assert m.hit_at(ranking, {"a"}, 1) == 0.0 and m.hit_at(ranking, {"a"}, 5) == 1.0
    assert m.reciprocal_rank(ranking, {"a", "c"}) == 0.5
    assert m.reciprocal_rank(ranking, {"z"}) == 0.0


def test_context_precision_matches_the_ragas_definition() -> None:
    # relevant at ranks 1 and 3: (1/1 + 2/3) / 2
    assert m.context_precision([True, False, True]) == pytest.approx((1 + 2 / 3) / 2)
    assert m.context_precision([False, False]) == 0.0
    assert m.context_precision([True, True]) == 1.0


def test_auroc() -> None:
    assert m.auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert m.auroc([0.1], [0.9]) == 0.0
    assert m.auroc([0.5], [0.5]) == 0.5
    assert math.isnan(m.auroc([], [0.1]))


def test_key_point_coverage() -> None:
    answer = "Data must be timely, accurate and valid across systems."
    assert m.key_point_covered(answer, "timely, accurate, valid")
    assert not m.key_point_covered(answer, "boil the ocean")


def test_percentile() -> None:
    assert m.percentile([1, 2, 3, 4], 50) == 2.5
    assert m.percentile([5], 95) == 5


def test_perturbations_change_the_sentence() -> None:
    assert swap_number("We cut costs by 40% in 2003.") == "We cut costs by 47% in 2003."
    assert negate("CRM is a business issue.") == "CRM is not a business issue."
    assert negate("IT should not carry the can.") == "IT should carry the can."
    swapped = swap_entity("Analysts met in Chicago last week.", ["Chicago", "Boston"])
    assert swapped == "Analysts met in Boston last week."
    assert swap_number("No figures here.") is None
