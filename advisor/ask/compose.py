"""The offline answer writer: picks the passages' sentences that answer the question, cites each.

Deterministic and LLM-free. Every sentence of an answer is a verbatim span of one retrieved
passage and carries that passage's ``[n]``. Evidence (articles) and advice (notes) are
written under separate headings so that a manager can tell them apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from advisor.ask.retrieval import Hit, Retrieval
from advisor.config import Settings
from advisor.contract import ADVICE_HEADING, EVIDENCE_HEADING
from advisor.knowledge.embeddings import Embedder, VectorCache
from advisor.quoting import display, passage_units
from advisor.text import content_terms

_ADVICE_QUESTION = re.compile(
    r"(?i)^\s*(how|what should|what can|what do we|who should|which|should|when should|"
    r"where should|can we|do we|is it worth|what steps|what is the best|tips?)\b"
)


@dataclass
class Segment:
    """One sentence chosen for the answer and the hit it comes from."""

    text: str
    hit: int
    kind: str
    score: float
    order: tuple[int, int]
    unit: int = 0
    pair: bool = False


@dataclass
class Composition:
    """A generator's output: sentences grouped under headings, with the hits they cite."""

    sections: list[tuple[str, list[Segment]]]
    hits: list[Hit]

    @property
    def empty(self) -> bool:
        """True when nothing was selected."""
        return not any(segs for _, segs in self.sections)


class Generator(Protocol):
    """What the chain needs of an answer generator."""

    name: str

    def compose(self, question: str, retrieval: Retrieval) -> Composition: ...


class ExtractiveComposer:
    """Writes answers from retrieved sentences only; no model but the embedder."""

    name = "extractive"

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.settings = settings
        self._cache = VectorCache.shared(embedder)

    def warm(self, passages: list[str]) -> list[str]:
        """Embed every quotable sentence now, so no question pays for it later; return them."""
        texts = [u[0] for text in passages for u in passage_units(text)]
        self._cache.vectors(texts)
        return texts

    def compose(self, question: str, retrieval: Retrieval) -> Composition:
        """Choose, order and group the sentences that best answer the question."""
        s = self.settings
        units = _candidate_units(retrieval.hits)
        if not units:
            return Composition([], retrieval.hits)
        vectors = self._cache.vectors([u[1] for u in units])
        cosine = vectors @ retrieval.query_vector
        weights = retrieval.term_weights or {t: 1.0 for t in content_terms(question)}
        total_weight = sum(weights.values()) or 1.0
        top_fused = max(h.fused for h in retrieval.hits) or 1.0
        wants_advice = bool(_ADVICE_QUESTION.match(question))
        scored: list[Segment] = []
        for unit, ((hit_idx, text, pos, dangling, pair), cos) in enumerate(
            zip(units, cosine, strict=True)
        ):
            if cos < s.min_sentence_relevance:
                continue
            terms = set(content_terms(text))
            overlap = sum(w for t, w in weights.items() if t in terms) / total_weight
            prior = retrieval.hits[hit_idx].fused / top_fused
            kind = str(retrieval.hits[hit_idx].passage.meta.get("kind", "article"))
            score = 0.6 * float(cos) + 0.25 * overlap + 0.15 * prior
            score -= 0.08 if dangling else 0.0
            score += 0.03 if wants_advice and kind == "note" else 0.0
            scored.append(Segment(display(text), hit_idx, kind, score, (hit_idx, pos), unit, pair))
        chosen = _select(scored, vectors, s.max_answer_sentences)
        evidence = [seg for seg in chosen if seg.kind == "article"]
        advice = [seg for seg in chosen if seg.kind != "article"]
        sections = [(EVIDENCE_HEADING, evidence), (ADVICE_HEADING, advice)]
        if wants_advice or (advice and advice[0].score > _best_score(evidence)):
            sections.reverse()
        return Composition([(h, segs) for h, segs in sections if segs], retrieval.hits)


def _best_score(segments: list[Segment]) -> float:
    """The best score among segments, or -inf."""
    return max((seg.score for seg in segments), default=float("-inf"))


def _candidate_units(hits: list[Hit]) -> list[tuple[int, str, int, bool, bool]]:
    """(hit, text, position, dangling, pair) for each quotable sentence of each hit."""
    return [
        (hit_idx, *unit)
        for hit_idx, hit in enumerate(hits)
        for unit in passage_units(hit.passage.text)
    ]


def _span(seg: Segment) -> set[int]:
    """The sentence positions a segment covers within its passage."""
    first = seg.order[1]
    return {first, first + 1} if seg.pair else {first}


def _select(scored: list[Segment], vectors: np.ndarray, limit: int) -> list[Segment]:
    """Best sentences first, skipping near-repeats, overlaps and a third from one passage."""
    chosen: list[Segment] = []
    per_hit: dict[int, int] = {}
    for seg in sorted(scored, key=lambda x: (-x.score, x.order)):
        if len(chosen) >= limit:
            break
        if per_hit.get(seg.hit, 0) >= 2:
            continue
        if any(c.hit == seg.hit and _span(c) & _span(seg) for c in chosen):
            continue
        if any(float(vectors[seg.unit] @ vectors[c.unit]) > 0.9 for c in chosen):
            continue
        if chosen and seg.score < 0.6 * chosen[0].score:
            break
        chosen.append(seg)
        per_hit[seg.hit] = per_hit.get(seg.hit, 0) + 1
    # Within a passage, keep reading order; across passages, keep rank order.
    rank: dict[int, int] = {}
    for seg in chosen:
        rank.setdefault(seg.hit, len(rank))
    return sorted(chosen, key=lambda x: (rank[x.hit], x.order[1]))


def render(composition: Composition) -> tuple[str, list[int]]:
    """Answer text with [n] markers, and the hit index behind each n (1-based order)."""
    numbering: dict[int, int] = {}
    lines: list[str] = []
    for heading, segments in composition.sections:
        if lines:
            lines.append("")
        lines.append(heading)
        for seg in segments:
            n = numbering.setdefault(seg.hit, len(numbering) + 1)
            lines.append(f"- {seg.text} [{n}]")
    return "\n".join(lines), list(numbering)


GENERATORS: dict[str, Callable[[Embedder, Settings], Generator]] = {
    "extractive": lambda embedder, settings: ExtractiveComposer(embedder, settings),
}
"""Offline answer generators by name (``ADVISOR_GENERATOR``); LLM backends are
``advisor.ask.llm.CHAT_MODELS``."""
