"""Plan-review eval: pattern precision and recall on labelled plans, tuned and held-out apart.

A pattern counts as *flagged* when the review gives it a high or medium finding (a low
finding is a prompt to check, not a verdict). Labels list the patterns a careful reviewer
should flag at medium or high, and the subset that is severe. ``tuned.yaml`` was written by
the developers and used to set the detector's weights; ``heldout.yaml`` was written
independently, without sight of the detector, and is never tuned on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from advisor import PATTERNS, Advisor

PLANS_DIR = Path(__file__).resolve().parent / "plans"
SPLITS = ("tuned", "heldout")
SHOWN_DIR = PLANS_DIR / "shown"
"""Held-out plans labelled with the flaws each *shows* and the strengths it has, each with
the plan's own sentence: written by two helper sessions that saw neither the detector, the
notes nor the training data; 14 of the 32 paraphrase public CRM plans and case studies."""


def load_plans(split: str, directory: Path = PLANS_DIR) -> list[dict[str, Any]]:
    """Read and check one split's labelled plans."""
    data = yaml.safe_load((directory / f"{split}.yaml").read_text(encoding="utf-8"))
    plans = list(data["plans"])
    for plan in plans:
        expected, high = set(plan["expected"]), set(plan.get("high") or [])
        unknown = (expected | high) - set(PATTERNS)
        if unknown:
            raise ValueError(f"{plan['id']}: unknown patterns {sorted(unknown)}")
        if not high <= expected:
            raise ValueError(f"{plan['id']}: high patterns must also be expected")
    return plans


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def score_split(advisor: Advisor, plans: list[dict[str, Any]]) -> tuple[dict[str, float], list]:
    """Micro precision, recall and F1 of flagged patterns; high-severity agreement; rows."""
    tp = fp = fn = high_hit = high_total = good_clean = goods = 0
    rows = []
    for plan in plans:
        review = advisor.review(plan["plan"])
        flagged = {f.pattern: f.severity for f in review.findings if f.severity != "low"}
        expected, high = set(plan["expected"]), set(plan.get("high") or [])
        tp += len(expected & set(flagged))
        fp += len(set(flagged) - expected)
        fn += len(expected - set(flagged))
        high_total += len(high)
        high_hit += sum(1 for p in high if flagged.get(p) == "high")
        highs = [p for p, s in flagged.items() if s == "high"]
        if plan.get("good"):
            goods += 1
            good_clean += not highs
        rows.append(
            {
                "id": plan["id"],
                "good": bool(plan.get("good")),
                "readiness": review.readiness,
                "flagged": flagged,
                "missed": sorted(expected - set(flagged)),
                "extra": sorted(set(flagged) - expected),
            }
        )
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    metrics = {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "high_recall": _ratio(high_hit, high_total),
        "good_plans_without_high": _ratio(good_clean, goods),
        "plans": float(len(plans)),
    }
    return metrics, rows


def evaluate_reviews(
    advisor: Advisor, directory: Path = PLANS_DIR
) -> tuple[dict[str, float], list]:
    """Both splits: metrics named review_<split>_<metric>, and every plan's row."""
    metrics: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    for split in SPLITS:
        split_metrics, split_rows = score_split(advisor, load_plans(split, directory))
        metrics.update({f"review_{split}_{k}": v for k, v in split_metrics.items()})
        rows += [{"split": split, **row} for row in split_rows]
    shown_metrics, shown_rows = score_shown(advisor, load_shown(directory / "shown"))
    metrics.update(shown_metrics)
    rows += [{"split": "shown", **row} for row in shown_rows]
    return metrics, rows


def load_shown(directory: Path = SHOWN_DIR) -> list[dict[str, Any]]:
    """The plans labelled with flaws shown and strengths, checked against the patterns."""
    plans: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        for plan in yaml.safe_load(path.read_text(encoding="utf-8"))["plans"]:
            flaws, strengths = set(plan.get("flaws") or {}), set(plan.get("strengths") or {})
            unknown = (flaws | strengths) - set(PATTERNS)
            if unknown or flaws & strengths:
                raise ValueError(f"{plan['id']}: unknown or contradictory patterns")
            plans.append(plan)
    return plans


def score_shown(advisor: Advisor, plans: list[dict[str, Any]]) -> tuple[dict[str, float], list]:
    """Recall and precision of flaws found as shown, inversions, open questions, good plans.

    An *inversion* is a flaw the plan shows that the review lists as a strength.
    """
    tp = fp = fn = inversions = most_open = good_high = goods = 0
    rows = []
    for plan in plans:
        review = advisor.review(plan["plan"])
        flaws = set(plan.get("flaws") or {})
        shown = {f.pattern for f in review.findings if f.basis == "shown"}
        strong = {s.pattern for s in review.strengths}
        tp, fp, fn = tp + len(flaws & shown), fp + len(shown - flaws), fn + len(flaws - shown)
        inversions += len(flaws & strong)
        most_open = max(most_open, sum(1 for f in review.findings if f.basis != "shown"))
        if plan.get("good"):
            goods += 1
            good_high += any(f.severity == "high" for f in review.findings)
        rows.append(
            {
                "id": plan["id"],
                "missed": sorted(flaws - shown),
                "extra": sorted(shown - flaws),
                "inverted": sorted(flaws & strong),
            }
        )
    metrics = {
        "review_shown_recall": _ratio(tp, tp + fn),
        "review_shown_precision": _ratio(tp, tp + fp),
        "review_inversions": float(inversions),
        "review_most_not_addressed": float(most_open),
        "review_good_plans_with_high": float(good_high),
        "review_shown_plans": float(len(plans)),
    }
    return metrics, rows
