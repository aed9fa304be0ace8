"""Deterministic metric functions (retrieval, citations, coverage, AUROC, percentiles)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from advisor import SupportChecker, content_terms


def doc_ranking(doc_ids: Sequence[str]) -> list[str]:
    """Document ids in first-seen order (a passage ranking collapsed to documents)."""
    return list(dict.fromkeys(doc_ids))


def hit_at(ranking: Sequence[str], expected: set[str], k: int) -> float:
    """1.0 if any expected document is in the top k."""
    return 1.0 if expected & set(ranking[:k]) else 0.0


def reciprocal_rank(ranking: Sequence[str], expected: set[str]) -> float:
    """1/rank of the first expected document, 0 if none."""
    for i, doc in enumerate(ranking, start=1):
        if doc in expected:
            return 1.0 / i
    return 0.0


def context_precision(relevance: Sequence[bool]) -> float:
    """RAGAS context precision: mean of precision@k over the ranks k holding a relevant chunk."""
    hits = 0
    total = 0.0
    for k, relevant in enumerate(relevance, start=1):
        if relevant:
            hits += 1
            total += hits / k
    return total / hits if hits else 0.0


def key_point_covered(answer: str, key_point: str, share: float = 0.7) -> bool:
    """A key point is covered when most of its content words occur in the answer."""
    wanted = set(content_terms(key_point))
    if not wanted:
        return True
    have = set(content_terms(answer))
    return len(wanted & have) / len(wanted) >= share


def alce_citation_scores(
    checker: SupportChecker, sentences: list[tuple[str, list[str]]]
) -> tuple[float, float, int]:
    """ALCE citation recall and precision over (sentence, cited passages) pairs.

    Recall: share of sentences whose cited passages jointly support them. Precision: share
    of citations that are not irrelevant, where a citation is irrelevant if it alone does
    not support the sentence and the others support it without it. Returns
    (recall, precision, citation count).
    """
    if not sentences:
        return 0.0, 0.0, 0
    supported = 0
    relevant = 0
    citations = 0
    for sentence, passages in sentences:
        ok = bool(passages) and checker.supported(sentence, passages)
        supported += ok
        for i, passage in enumerate(passages):
            citations += 1
            alone = checker.supported(sentence, [passage])
            others = passages[:i] + passages[i + 1 :]
            without = bool(others) and checker.supported(sentence, others)
            irrelevant = not alone and (without or not ok)
            relevant += not irrelevant
    return supported / len(sentences), (relevant / citations if citations else 0.0), citations


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney), ties counted half."""
    if not positives or not negatives:
        return float("nan")
    wins = 0.0
    for p in positives:
        for n in negatives:
            wins += 1.0 if p > n else 0.5 if p == n else 0.0
    return wins / (len(positives) * len(negatives))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def doc_aliases(passages: Sequence[Any]) -> dict[str, set[str]]:
    """What each answer entry stands for in sets labelled before entries existed.

    The golden set names notes and articles; a direct-answer entry on a pattern is that
    pattern's advice, resting on its ``sources``, so it counts as the pattern's note and as
    those articles. Other documents stand for themselves.
    """
    out: dict[str, set[str]] = {}
    for p in passages:
        meta = p.meta
        if meta.get("kind") == "answer":
            topic = str(meta.get("topic", "")).replace("_", "-")
            sources = [s for s in str(meta.get("sources", "")).split(",") if s]
            out[p.doc_id] = {p.doc_id, f"note-{topic}", *sources}
    return out


def aliased_ranking(
    doc_ids: Sequence[str], aliases: dict[str, set[str]], expected: set[str]
) -> list[str]:
    """``doc_ranking`` with each answer entry replaced by an expected document it stands for."""
    out = []
    for d in doc_ids:
        hit = sorted(aliases.get(d, {d}) & expected)
        out.append(hit[0] if hit else d)
    return doc_ranking(out)
