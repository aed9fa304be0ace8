"""The offline answer writer: picks the passages' sentences that answer the question, cites each.

Deterministic and LLM-free. Every sentence is a verbatim span of one retrieved passage with
that passage's ``[n]``. The shape a manager reads in ten seconds: the direct answer first
(the leading sentence of the answer entry whose phrasings match the question), then why
(article evidence), then what to do (advice from the notes and answers), under separate
headings so that evidence and advice can be told apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from advisor.ask.entries import verbatim_span
from advisor.ask.leads import FORMS, STANCE, formed, offered, unverdicted, verdict_holds
from advisor.ask.qtypes import QuestionTyper
from advisor.ask.retrieval import Hit, Retrieval
from advisor.config import Settings
from advisor.contract import ADVICE_HEADING, DIRECT_HEADING, EVIDENCE_HEADING
from advisor.knowledge.embeddings import Embedder, VectorCache
from advisor.quoting import display, leans_back, passage_units, standalone
from advisor.text import content_terms

# Note sections that describe the problem; a how-to question wants the remedy instead.
_PROBLEM_SECTIONS = ("What it looks like", "How to spot it in a plan")
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

    def with_text(self, text: str) -> Segment:
        """The same segment showing ``text`` (a verbatim part of its sentence)."""
        return replace(self, text=text)


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

    def compose(self, question: str, retrieval: Retrieval, qtype: str = "") -> Composition: ...


class ExtractiveComposer:
    """Writes answers from retrieved sentences only; no model but the embedder."""

    name = "extractive"

    def __init__(self, embedder: Embedder, settings: Settings) -> None:
        self.settings = settings
        self._cache = VectorCache.shared(embedder)

    def _typer(self) -> QuestionTyper:
        return QuestionTyper.for_settings(self._cache.embedder, self.settings)

    def warm(self, passages: list[str]) -> list[str]:
        """Embed every quotable sentence now, so no question pays for it later, and train the
        question-type reader; return the texts embedded."""
        self._cache.vectors(texts := [u[0] for text in passages for u in passage_units(text)])
        return texts + self._typer().texts

    def _score(
        self,
        question: str,
        retrieval: Retrieval,
        units: list[tuple[int, str, int, bool, bool]],
        vectors: np.ndarray,
        qtype: str,
        wants_advice: bool,
    ) -> list[Segment]:
        """Each quotable sentence close enough to the question, with its score: cosine,
        IDF-weighted word overlap and passage rank, less a penalty for leaning back."""
        cosine = vectors @ retrieval.query_vector
        weights = retrieval.term_weights or {t: 1.0 for t in content_terms(question)}
        total_weight = sum(weights.values()) or 1.0
        top_fused = max(h.fused for h in retrieval.hits) or 1.0
        scored: list[Segment] = []
        for unit, ((hit_idx, text, pos, dangling, pair), cos) in enumerate(
            zip(units, cosine, strict=True)
        ):
            meta = retrieval.hits[hit_idx].passage.meta
            kind = str(meta.get("kind", "article"))
            if cos < self.settings.min_sentence_relevance:
                continue
            if qtype == "how_to" and meta.get("section") in _PROBLEM_SECTIONS:
                continue  # asked what to do: a sentence restating the problem does not answer
            if kind == "answer" and STANCE.match(text):
                continue  # "No: …" answers its own entry's question, not this one
            terms = set(content_terms(text))
            overlap = sum(w for t, w in weights.items() if t in terms) / total_weight
            prior = retrieval.hits[hit_idx].fused / top_fused
            score = 0.6 * float(cos) + 0.25 * overlap + 0.15 * prior
            score -= 0.08 if dangling else 0.0
            score += 0.03 if wants_advice and kind != "article" else 0.0
            scored.append(Segment(display(text), hit_idx, kind, score, (hit_idx, pos), unit, pair))
        return scored

    def compose(self, question: str, retrieval: Retrieval, qtype: str = "") -> Composition:
        """Choose, order and group the sentences that best answer the question.

        ``qtype`` is the question's form as the asker wrote it (read here when not given:
        a condensed follow-up no longer reads as its own form).
        """
        s = self.settings
        units = _candidate_units(retrieval.hits)
        if not units:
            return Composition([], retrieval.hits)
        vectors = self._cache.vectors([u[1] for u in units])
        typer = self._typer()
        qtype = qtype or typer.classify(question)
        wants_advice = bool(_ADVICE_QUESTION.match(question)) or qtype == "how_to"
        scored = self._score(question, retrieval, units, vectors, qtype, wants_advice)
        lead = _direct_hit(retrieval, s.direct_answer_min, qtype, typer, question)
        if lead is not None:
            own = [
                Segment(display(text), hit, "answer", 1.0, (hit, pos), unit)
                for unit, (hit, text, pos, _, pair) in enumerate(units)
                if hit == lead and not pair
            ]
            own = formed(own, scored, qtype, question)
            hit = retrieval.hits[lead]
            if not verdict_holds(hit.question_similarity or 0.0, hit.opposite_similarity):
                own = unverdicted(own)
            return _direct(own, lead, scored, vectors, retrieval, s.max_answer_sentences)
        chosen = _backed(
            _select(scored, vectors, s.max_answer_sentences), scored, s.max_answer_sentences
        )
        if qtype in FORMS and chosen:
            first = formed(chosen, scored, qtype, question)[0]
            if first is not chosen[0]:
                rest = [seg for seg in chosen if seg is not first][: s.max_answer_sentences - 1]
                ev = [seg for seg in rest if seg.kind == "article"]
                adv = [seg for seg in rest if seg.kind != "article"]
                parts: list[tuple[str, list[Segment]]] = [
                    (DIRECT_HEADING, [first]),
                    (EVIDENCE_HEADING, ev),
                    (ADVICE_HEADING, adv),
                ]
                return Composition([(h, segs) for h, segs in parts if segs], retrieval.hits)
        evidence = [seg for seg in chosen if seg.kind == "article"]
        advice = [seg for seg in chosen if seg.kind != "article"]
        sections = [(EVIDENCE_HEADING, evidence), (ADVICE_HEADING, advice)]
        if wants_advice or (advice and advice[0].score > _best_score(evidence)):
            sections.reverse()
        return Composition([(h, segs) for h, segs in sections if segs], retrieval.hits)


# Beside a direct answer: at most this many article sentences as evidence, each scoring this
# share of the best. Chosen on the dev questions: 3, 4, 5 gave key-point coverage 0.553,
# 0.576, 0.576 (lead and hit@5 unchanged); a floor of 0.6 instead of 0.75 gave 0.561 at 4.
EVIDENCE_MAX, EVIDENCE_FLOOR = 4, 0.75


# A role or a figure is a specific answer: an entry written for another form of question
# on the same topic (why IT takes the blame, for "who is accountable?") rarely holds it, so
# these are led by an entry only when it was written for that form. Chosen on the dev
# questions (87 direct): lead accuracy 0.586 → 0.609 (who alone), 0.621 (who and how many);
# adding yes/no, choice or definition left it at 0.621.
OWN_FORM_ONLY = ("who", "how_many")
# An entry written for the question's form comes first only among entries whose best
# phrasing is within this of the closest entry's: a yes/no entry on data quality in general
# (0.77) must not lead "should we clean our data before migrating?" over the entry written
# for "before or after?" (0.91). Chosen on the dev questions: margins 0.05, 0.1, 0.15 and
# none gave lead accuracy 0.703, 0.725, 0.714, 0.714.
FORM_MARGIN = 0.1


def _direct_hit(
    retrieval: Retrieval, floor: float, qtype: str, typer: QuestionTyper, question: str
) -> int | None:
    """The hit of the answer entry to lead with: of the entries whose best phrasing is at
    least ``floor`` close to the question, the one the fusion ranks highest (its phrasings,
    its text and its words all agreeing), rather than the single closest phrasing.

    An entry written for the same form of question comes first when its phrasing is nearly
    as close as the closest entry's (``FORM_MARGIN``), and only such an entry leads a who or
    how-many question (``OWN_FORM_ONLY``); an entry that opens with a stance ("Yes, …",
    "No: …") leads only a yes/no or choice question. The verdict itself stays only when it
    answers the question as asked (``leads.verdict_holds``).
    """
    close = [
        idx
        for idx, hit in enumerate(retrieval.hits)
        if hit.question_similarity is not None
        and hit.question_similarity >= floor
        and not (STANCE.match(hit.passage.text) and qtype not in ("yes_no", "choice"))
        and (qtype != "choice" or offered(hit.passage.text, question))
    ]
    if not close:
        return None
    titles = [str(retrieval.hits[i].passage.meta.get("title", "")) for i in close]
    forms = typer.classify_many(titles)  # one pass for all the close entries
    ranked = [(i, form) for i, form in zip(close, forms, strict=True)]
    if qtype in OWN_FORM_ONLY:
        ranked = [(i, form) for i, form in ranked if form == qtype]
    if not ranked:
        return None
    best = max(retrieval.hits[i].question_similarity or 0.0 for i, _ in ranked)
    return max(
        (
            form == qtype and (retrieval.hits[i].question_similarity or 0.0) >= best - FORM_MARGIN,
            retrieval.hits[i].fused,
            i,
        )
        for i, form in ranked
    )[2]


def _direct(
    own: list[Segment],
    lead: int,
    scored: list[Segment],
    vectors: np.ndarray,
    retrieval: Retrieval,
    limit: int,
) -> Composition:
    """The direct answer (``own``: the entry's sentences in order), then the article
    evidence (the entry's own quotes, then the article sentences closest to the question),
    then the rest of its advice and the notes' best sentences; at most ``limit`` in all."""
    hits = retrieval.hits
    if not own:
        return Composition([], hits)
    evidence = _entry_evidence(hits, lead)[: max(0, limit - 1)]
    best = max((seg.score for seg in scored), default=0.0)
    quoted = [seg.text for seg in evidence]
    for seg in sorted(scored, key=lambda x: (-x.score, x.order)):
        if len(evidence) >= min(EVIDENCE_MAX, limit - 1) or seg.score < EVIDENCE_FLOOR * best:
            break
        if seg.kind != "article" or seg.pair or leans_back(seg.text):
            continue  # evidence quoted beside a direct answer must stand on its own
        if not any(seg.text in q or q in seg.text for q in quoted):
            evidence.append(seg)
            quoted.append(seg.text)
    advice = own[1 : max(1, min(4, limit - len(evidence)))]
    taken = [own[0], *advice]
    room = limit - len(taken) - len(evidence)
    for seg in sorted(scored, key=lambda x: (-x.score, x.order)):
        if room <= 0 or seg.score < 0.8 * best:
            break
        if seg.kind != "note" or any(
            float(vectors[seg.unit] @ vectors[c.unit]) > 0.8 for c in taken
        ):
            continue
        if any(c.hit == seg.hit and _span(c) & _span(seg) for c in taken):
            continue
        advice.append(seg)
        taken.append(seg)
        room -= 1
    sections = [(DIRECT_HEADING, own[:1]), (EVIDENCE_HEADING, evidence), (ADVICE_HEADING, advice)]
    return Composition([(h, segs) for h, segs in sections if segs], hits)


def _entry_evidence(hits: list[Hit], lead: int) -> list[Segment]:
    """The answer entry's own evidence quotes, as found in the article hits (at most two)."""
    evidence: list[Segment] = []
    for whole in str(hits[lead].passage.meta.get("evidence", "")).split("\n"):
        quote = standalone(whole) if whole else None
        if quote is None:
            continue  # a sentence that leans on the one before it is not quoted alone
        for idx, hit in enumerate(hits):
            text = hit.passage.text
            if hit.passage.meta.get("kind") == "article" and quote in " ".join(text.split()):
                span = verbatim_span(text, quote)
                evidence.append(Segment(display(span), idx, "article", 1.0, (idx, 0), -1))
                break
        if len(evidence) == 2:
            break
    return evidence


def _backed(chosen: list[Segment], scored: list[Segment], limit: int) -> list[Segment]:
    """Advice backed by evidence: with no article sentence chosen, add the best one found."""
    if not chosen or any(seg.kind == "article" for seg in chosen):
        return chosen
    best = max(
        (seg for seg in scored if seg.kind == "article"), key=lambda x: x.score, default=None
    )
    if best is None or best.score < 0.6 * chosen[0].score:
        return chosen
    if limit < 2:
        return chosen  # the one sentence allowed is the best one
    return [*chosen[: limit - 1], best] if len(chosen) >= limit else [*chosen, best]


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
