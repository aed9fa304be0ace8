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
    return metrics, rows
