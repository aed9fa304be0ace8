"""The offline answer writer: picks the passages' sentences that answer the question, cites each.

Deterministic and LLM-free. Every sentence of an answer is a verbatim span of one retrieved
passage and carries that passage's ``[n]``. Evidence (articles) and advice (notes) are
written under separate headings so that a manager can tell them apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from advisor.config import Settings
from advisor.index import Embedder, VectorCache
from advisor.retrieval import Hit, Retrieval
from advisor.text import content_terms, split_sentences

EVIDENCE_HEADING = "What the sources say:"
ADVICE_HEADING = "What we advise:"
# Sentences opening with these lean on the sentence before them for meaning.
_DANGLING = re.compile(
    r"^(this|that|these|those|it|its|they|their|such|he|she|but|so|however|then|also|and|"
    r"or|as a result|in addition|for this reason)\b",
    re.I,
)
_ADVICE_QUESTION = re.compile(
    r"(?i)^\s*(how|what should|what can|what do we|who should|which|should|when should|"
    r"where should|can we|do we|is it worth|what steps|what is the best|tips?)\b"
)
_QUOTES = '"“”'
# A bracketed number in a quote would read as a citation marker that names no citation.
_MARKER_LIKE = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")


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
        texts = [u[0] for text in passages for u in _passage_units(text)]
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
            scored.append(Segment(_display(text), hit_idx, kind, score, (hit_idx, pos), unit, pair))
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
        for unit in _passage_units(hit.passage.text)
    ]


def _passage_units(text: str) -> list[tuple[str, int, bool, bool]]:
    """(text, position, dangling, pair) for each quotable sentence of a passage.

    A sentence that leans on the one before it also comes as a pair with that sentence
    (position is then the first sentence's); both are verbatim spans of the passage.
    """
    units: list[tuple[str, int, bool, bool]] = []
    sentences = split_sentences(text)
    for pos, sent in enumerate(sentences):
        if not _quotable(sent):
            continue
        prev = sentences[pos - 1] if pos > 0 else ""
        dangling = bool(_DANGLING.match(sent.lstrip('•-– "“')))
        # A short lead-in ("Goals are too broad.") names what the next sentence explains.
        lead_in = bool(prev) and len(prev.split()) < 6 and prev.endswith(".")
        if prev and ((dangling and _quotable(prev)) or lead_in):
            units.append((f"{prev} {sent}", pos - 1, False, True))
        units.append((sent, pos, dangling, False))
    return [u for u in units if u[0] in text and not _MARKER_LIKE.search(u[0])]


def _span(seg: Segment) -> set[int]:
    """The sentence positions a segment covers within its passage."""
    first = seg.order[1]
    return {first, first + 1} if seg.pair else {first}


def _quotable(sentence: str) -> bool:
    words = sentence.split()
    if len(words) < 6 or sentence.rstrip().endswith(("?", ":")):
        return False
    if sentence.startswith("(") and sentence.rstrip().endswith(")"):
        return False
    return sentence.rstrip(_QUOTES + "’ )").endswith((".", "!"))


def _display(text: str) -> str:
    """A sentence for display: no bullet, and no quote mark left without its partner."""
    text = text.lstrip("•-– ").strip()
    if text.count('"') % 2 == 1:
        if text.startswith('"'):
            text = text[1:]
        elif text.endswith('"'):
            text = text[:-1]
    if text.count("“") > text.count("”") and text.startswith("“"):
        text = text[1:]
    if text.count("”") > text.count("“") and text.endswith("”"):
        text = text[:-1]
    return text.strip()


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


REFUSAL = (
    "I can't answer that from my CRM strategy sources: they don't cover it. "
    "I can help with why CRM initiatives fail and how to avoid it: scoping goals, "
    "strategy before software, data quality and integration, measuring ROI, resourcing, "
    "who should own the project, leadership, and phasing a rollout. "
    "Try, for example: “Why is our CRM plan too broad?” or “Who should own the CRM project?”"
)
INSTRUCTION_REFUSAL = (
    "That reads as an instruction rather than a question about CRM strategy, so I have not "
    "acted on it. Ask me about CRM strategy, for example: “Why is our CRM plan too broad?”"
)
