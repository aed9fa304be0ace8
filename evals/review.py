"""Plan-review eval: flaws found as shown, inversions, open questions, per pattern, per set.

Four measurements, side by side, so that the gap between them shows overfitting:

- **cv**: the sentence classifier's stratified 5-fold cross-validation on its own training
  sentences (``training/plan-sentences/``), per pattern, at the sentence level;
- **authors**: the training files that label whole plans, each written by its own helper
  session, each read by a model trained on the other files (leave one author out), per
  plan: the nearest the training data comes to an unseen manager's plan;
- **dev**: the development plans (``evals/plans/dev/``), on which the detector's floors
  were chosen and whose failures may be studied;
- **heldout**: the held-out plans (``evals/plans/heldout/``), written by helper sessions that
  saw neither the training data, the notes nor the detector, and never tuned on.

A plan's labels list the patterns it *shows* (``flaws``, each with the plan's sentence), the
severe subset (``high``), and what it guards against (``strengths``). A review *finds* a
flaw when it raises that pattern as a red flag (``basis: shown``); an *inversion* is a flaw
the plan shows that the review lists as a strength.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from advisor import PATTERNS, Advisor, InvalidInputError, Review

PLANS_DIR = Path(__file__).resolve().parent / "plans"
SETS = ("dev", "heldout")
VERDICTS = ("not_addressed", "shown", "addressed")  # predicted, in the order of the labels
TRUTHS = ("none", "flaw", "strength")
NOT_A_PLAN = "not-a-crm-plan"  # the error code of a text refused as no CRM plan at all


def load_labelled(directory: Path) -> list[dict[str, Any]]:
    """The labelled plans of one set (every ``*.yaml`` in ``directory``), checked."""
    plans: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        for plan in yaml.safe_load(path.read_text(encoding="utf-8"))["plans"]:
            flaws, strengths = set(plan.get("flaws") or {}), set(plan.get("strengths") or {})
            high = set(plan.get("high") or [])
            if (flaws | strengths) - set(PATTERNS) or flaws & strengths or not high <= flaws:
                raise ValueError(f"{plan['id']}: unknown, contradictory or stray patterns")
            plans.append(plan)
    if not plans:
        raise ValueError(f"no labelled plans in {directory}")
    return plans


def review_or_none(advisor: Advisor, text: str) -> Review | None:
    """The review of ``text``, or None when the advisor refuses it as no CRM plan."""
    try:
        return advisor.review(text)
    except InvalidInputError as exc:
        if exc.code != NOT_A_PLAN:
            raise
        return None


def evaluate_scope(advisor: Advisor, directory: Path = PLANS_DIR / "scope") -> dict[str, float]:
    """The not-a-plan check per set: the share of non-plans refused (``refusal_recall``) and
    the genuine CRM plans refused (``false_refusals``, a count). Each ``<set>.yaml`` lists
    ``{id, kind: not_a_plan | crm_plan, text}``; the labelled plans count as ``crm_plan``."""
    metrics: dict[str, float] = {}
    for path in sorted(directory.glob("*.yaml")):
        items = yaml.safe_load(path.read_text(encoding="utf-8"))
        refused = {"not_a_plan": 0, "crm_plan": 0}
        total = {"not_a_plan": 0, "crm_plan": 0}
        for item in items:
            total[item["kind"]] += 1
            refused[item["kind"]] += review_or_none(advisor, item["text"]) is None
        metrics[f"review_scope_{path.stem}_refusal_recall"] = _ratio(
            refused["not_a_plan"], total["not_a_plan"]
        )
        metrics[f"review_scope_{path.stem}_false_refusals"] = float(refused["crm_plan"])
    return metrics


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def score_plans(
    advisor: Advisor, plans: list[dict[str, Any]]
) -> tuple[dict[str, float], list[dict[str, Any]], dict[str, list[list[int]]]]:
    """Micro recall and precision of red flags, inversions, open questions, good plans.

    ``strength_precision`` is the share of the strengths listed that the labels name.

    Also returns one row per plan and, per pattern, a 3 x 3 plan-level confusion: rows are
    the truth (none, flaw, strength), columns the verdict (not addressed, shown, addressed).
    """
    confusion = {p: [[0, 0, 0] for _ in TRUTHS] for p in PATTERNS}
    inversions = most_open = good_high = goods = strong_right = strong_all = refused = 0
    rows = []
    for plan in plans:
        review = review_or_none(advisor, plan["plan"])
        refused += review is None  # then every flaw is missed
        flaws, strengths = set(plan.get("flaws") or {}), set(plan.get("strengths") or {})
        shown = {f.pattern for f in review.red_flags} if review else set()
        strong = {s.pattern for s in review.strengths} if review else set()
        for p in PATTERNS:
            truth = 1 if p in flaws else 2 if p in strengths else 0
            confusion[p][truth][1 if p in shown else 2 if p in strong else 0] += 1
        inversions += len(flaws & strong)
        strong_right, strong_all = strong_right + len(strong & strengths), strong_all + len(strong)
        most_open = max(most_open, len(review.open_questions) if review else 0)
        if plan.get("good"):
            goods += 1
            good_high += bool(review) and any(f.severity == "high" for f in review.findings)
        rows.append(
            {
                "id": plan["id"],
                "readiness": review.readiness if review else None,
                "missed": sorted(flaws - shown),
                "extra": sorted(shown - flaws),
                "inverted": sorted(flaws & strong),
            }
        )
    tp = sum(c[1][1] for c in confusion.values())
    found = sum(c[t][1] for c in confusion.values() for t in range(3))
    planted = sum(sum(c[1]) for c in confusion.values())
    metrics = {
        "recall": _ratio(tp, planted),
        "precision": _ratio(tp, found),
        "inversions": float(inversions),
        "strength_precision": _ratio(strong_right, strong_all),
        "most_open_questions": float(most_open),
        "good_plans_with_high": float(good_high),
        "plans": float(len(plans)),
        "refused": float(refused),  # labelled CRM plans refused as no plan at all
    }
    return metrics, rows, confusion


def per_pattern(confusion: dict[str, list[list[int]]]) -> dict[str, dict[str, float]]:
    """Precision and recall of ``shown`` (or of ``shows_flaw``) per pattern from a confusion."""
    out = {}
    for p, c in confusion.items():
        found = sum(c[t][1] for t in range(3))
        out[p] = {"precision": _ratio(c[1][1], found), "recall": _ratio(c[1][1], sum(c[1]))}
    return out


def evaluate_reviews(
    advisor: Advisor, directory: Path = PLANS_DIR
) -> tuple[dict[str, float], list[dict[str, Any]], dict[str, Any]]:
    """All three measurements: metrics named ``review_<set>_<metric>``, every plan's row, and
    per pattern, each set's precision, recall and confusion (``{pattern: {set: {...}}}``)."""
    metrics: dict[str, float] = {}
    rows: list[dict[str, Any]] = []
    confusions = {"cv": advisor.cross_validate_review()}
    for name in SETS:
        set_metrics, set_rows, confusions[name] = score_plans(
            advisor, load_labelled(directory / name)
        )
        metrics.update({f"review_{name}_{k}": v for k, v in set_metrics.items()})
        rows += [{"split": name, **row} for row in set_rows]
    cv = confusions["cv"]
    tp = sum(c[1][1] for c in cv.values())
    metrics["review_cv_precision"] = _ratio(tp, sum(c[t][1] for c in cv.values() for t in range(3)))
    metrics["review_cv_recall"] = _ratio(tp, sum(sum(c[1]) for c in cv.values()))
    authors = advisor.validate_review_by_author().values()
    found = sum(a["found"] for a in authors)
    metrics["review_authors_recall"] = _ratio(found, found + sum(a["missed"] for a in authors))
    metrics["review_authors_precision"] = _ratio(found, found + sum(a["false"] for a in authors))
    metrics["review_authors_plans"] = float(sum(a["plans"] for a in authors))
    metrics.update(evaluate_scope(advisor))
    patterns = {
        p: {
            name: {**per_pattern({p: confusions[name][p]})[p], "confusion": confusions[name][p]}
            for name in confusions
        }
        for p in PATTERNS
    }
    return metrics, rows, patterns
