"""Plan review: diagnose a pasted CRM plan against the 12 failure patterns, with cited reasons.

``PlanReviewer`` reads the plan (``advisor.review.plan``), has the sentence classifier read
each sentence (``advisor.review.classifier``), decides per pattern (``advisor.review.detect``)
and explains each red flag and open question from the corpus (why: the pattern's note and
the articles it rests on; fix: the note's "What to do instead"). It restates the headline
goal when it is vague (``advisor.review.goals``) and scores readiness. Every quoted corpus
sentence is a verbatim span of a cited passage, as in answers; rendering lives in
``advisor.review.render``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from advisor.contract import Citation, Finding, GoalRewrite, Review, Strength
from advisor.knowledge.embeddings import Embedder, VectorCache
from advisor.knowledge.snapshot import IndexedPassage, IndexSnapshot
from advisor.patterns import REGISTRY
from advisor.quoting import display, passage_units
from advisor.review.classifier import SentenceClassifier
from advisor.review.detect import Reading, detect, with_clauses
from advisor.review.goals import rewrite_goal
from advisor.review.plan import Plan, PlanSentence, parse_plan
from advisor.review.render import render_review, summarise
from advisor.review.scope import check_in_scope
from advisor.text import content_terms

PENALTY = {"high": 25, "medium": 12, "low": 5}
SILENT_PENALTY = 5  # each of the 12 areas the plan says nothing about, asked or not
MAX_QUESTIONS = 3
TOUCHED = 0.25  # a plan that comes this near a topic without settling it is asked first
_FAILURE_SECTIONS = ("What it looks like", "How to spot it in a plan")
_REMEDY_SECTION = "What to do instead"
NOT_ADDRESSED = "not addressed"
FOCUS_FLOOR = 0.2  # least similarity of a pronoun-only follow-up to the finding it is about
# A follow-up that leans on the review and is this near one of its findings is about that
# one, not the first: "how should we roll it out instead?" is 0.34 from big-bang rollout and
# at most 0.23 from any other pattern; "why is that a problem?" is nearer none (0.17).
FOCUS_NEAR = 0.3
# Words that say a question leans on the review: pronouns, continuations, the plan itself.
_LEANS_ON_REVIEW = re.compile(
    r"(?i)\b(that|this|it|its|they|them|those|these|the same|plan|review|finding|gap|first"
    r"|instead)\b|^\s*(and|or|but|so|also|what about|how about|then)\b"
)
_GENERIC_TERMS = frozenset(content_terms("crm plan project review finding customer fix"))
ARTICLE_FLOOR = 0.5  # an article sentence further than this from the note adds nothing


def _about(pattern: str) -> str:
    spec = REGISTRY[pattern]
    return f"{spec.title}: {spec.description}"


@dataclass
class _Unit:
    """A quotable sentence of a corpus passage."""

    passage: IndexedPassage
    text: str
    position: int


class PlanReviewer:
    """Reviews plans against one index snapshot; the corpus side is embedded once."""

    def __init__(
        self,
        snapshot: IndexSnapshot,
        embedder: Embedder,
        classifier: SentenceClassifier,
    ) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.classifier = classifier
        self._cache = VectorCache.shared(embedder)
        # One pass over the passages, not one per pattern and section (100,000 at scale).
        self._by_pattern: dict[str, list[IndexedPassage]] = {}
        for i in range(len(snapshot.passages)):
            if snapshot.kinds[i] == "note":
                p = snapshot.passages[i]
                self._by_pattern.setdefault(str(p.meta.get("pattern", "")), []).append(p)
        self.patterns = [p for p in REGISTRY if self._notes(p)]
        self._failure = {p: self._units(self._notes(p, _FAILURE_SECTIONS)) for p in self.patterns}
        self._remedy = {p: self._units(self._notes(p, (_REMEDY_SECTION,))) for p in self.patterns}
        self._looks = {p: self._units(self._notes(p, _FAILURE_SECTIONS[:1])) for p in self.patterns}
        self._articles = {p: self._units(self._articles_for(p)) for p in self.patterns}
        self._about = self._cache.vectors([_about(p) for p in self.patterns])

    # -- corpus side -------------------------------------------------------------------
    def _notes(self, pattern: str, sections: tuple[str, ...] | None = None) -> list[IndexedPassage]:
        return [
            p
            for p in self._by_pattern.get(pattern, [])
            if sections is None or p.meta.get("section") in sections
        ]

    def _articles_for(self, pattern: str) -> list[IndexedPassage]:
        sources = {
            s.strip()
            for n in self._notes(pattern)
            for s in str(n.meta.get("sources", "")).split(",")
        }
        by_doc, passages = self.snapshot.by_doc, self.snapshot.passages
        return [passages[i] for i in sorted(j for d in sources if d for j in by_doc.get(d, []))]

    @staticmethod
    def _units(passages: list[IndexedPassage]) -> list[_Unit]:
        return [
            _Unit(p, text, pos)
            for p in passages
            for text, pos, dangling, _pair in passage_units(p.text)
            if not dangling
        ]

    def _vectors(self, units: list[_Unit]) -> np.ndarray:
        return self._cache.vectors([u.text for u in units])

    def warm(self) -> list[str]:
        """Embed every corpus sentence the reviewer may quote; return those texts."""
        texts = [_about(p) for p in self.patterns]
        for table in (self._failure, self._remedy, self._looks, self._articles):
            for units in table.values():
                self._vectors(units)
                texts += [u.text for u in units]
        return texts

    # -- the review --------------------------------------------------------------------
    def readings(self, plan: Plan) -> tuple[list[Reading], np.ndarray, dict[tuple[int, str], str]]:
        """Every pattern's reading of the plan, the plan sentences' vectors (n, 384), and the
        clause to quote for a (sentence, pattern) whose red flag one clause raised."""
        texts = [s.context or s.text for s in plan.sentences]
        clauses = [(s, c) for s in plan.sentences for c in s.clauses]
        read, vectors = self.classifier.read(texts + [c for _, c in clauses])
        read, source = with_clauses(read, [s.index for s, _ in clauses])
        order = [self.classifier.patterns.index(p) for p in self.patterns]
        quotes = {
            (int(i), self.patterns[j]): _own_words(*clauses[int(source[i, k])])
            for j, k in enumerate(order)
            for i in np.flatnonzero(source[:, k] >= 0)
        }
        return detect(plan, read[:, order, :], self.patterns), vectors[: len(texts)], quotes

    def review(self, text: str, conversation_id: str) -> Review:
        """Review a cleaned plan text; the caller stores it."""
        plan = parse_plan(text)
        readings, vectors, quotes = self.readings(plan)
        check_in_scope(text, vectors, self.snapshot.embeddings)
        strengths = [
            Strength(pattern=r.pattern, title=REGISTRY[r.pattern].strength,
                     evidence=[plan.sentences[i].text for i in r.evidence], confidence=r.confidence)
            for r in readings if r.basis == "addressed"
        ]  # fmt: skip
        cited: dict[str, Citation] = {}
        findings = [self._finding(plan, r, vectors, cited, quotes) for r in red_flags(readings)]
        findings += [self._finding(plan, r, vectors, cited) for r in open_questions(readings)]
        silent = sum(1 for r in readings if r.basis == "not_addressed")
        readiness = max(
            0,
            100
            - sum(PENALTY[f.severity] for f in findings if f.basis == "shown")
            - SILENT_PENALTY * silent,
        )
        verdict = "ready" if readiness >= 75 else "needs work" if readiness >= 50 else "not ready"
        goal = self._goal(plan, readings)
        review = Review(
            conversation_id=conversation_id,
            readiness=readiness,
            verdict=verdict,
            summary=summarise(findings, strengths, readiness, verdict, silent),
            findings=findings,
            strengths=strengths,
            goal_rewrite=goal,
            citations=list(cited.values()),
        )
        review.text = render_review(review)
        return review

    @staticmethod
    def _goal(plan: Plan, readings: list[Reading]) -> GoalRewrite | None:
        """The headline goal restated, when the plan shows a broad or unmeasured goal."""
        by_pattern = {r.pattern: r for r in readings}
        broad = by_pattern.get("goals_too_broad")
        if broad and broad.basis == "shown" and broad.evidence:
            return rewrite_goal(plan, plan.sentences[broad.evidence[0]])
        unmeasured = by_pattern.get("no_measurement")
        if unmeasured is None or unmeasured.basis == "addressed":
            return None
        # A sentence that shows a flaw ("we have not set any targets yet") is no goal.
        flawed = {i for r in readings if r.basis == "shown" for i in r.evidence}
        goals = [s for s in plan.with_cue("goal") if s.index not in flawed]
        return rewrite_goal(plan, goals[0]) if goals else None

    def _finding(
        self,
        plan: Plan,
        r: Reading,
        vectors: np.ndarray,
        cited: dict[str, Citation],
        quotes: dict[tuple[int, str], str] | None = None,
    ) -> Finding:
        """A red flag or open question with its why and fix, cited from the corpus; a red
        flag one clause raised quotes that clause (``quotes``), not its whole line."""
        spec = REGISTRY[r.pattern]
        query = self._query(r.pattern, vectors[r.evidence] if r.evidence else None)
        shown = r.basis == "shown"
        return Finding(
            pattern=r.pattern,
            title=spec.title,
            severity=r.severity or "low",
            basis="shown" if shown else "not_addressed",
            evidence=[
                (quotes or {}).get((i, r.pattern), plan.sentences[i].text) for i in r.evidence
            ]
            if shown
            else [NOT_ADDRESSED],
            why=self._cite(self._why(r.pattern, query), cited),
            fix=self._cite(self._fix(r.pattern, query), cited),
            signals=r.reasons if shown else [f"the plan does not say: {spec.description}"],
            confidence=max(0.0, min(1.0, r.confidence)),
            question="" if shown else spec.question,
        )

    def _query(self, pattern: str, evidence: np.ndarray | None) -> np.ndarray:
        about = self._about[self.patterns.index(pattern)]
        if evidence is None or not len(evidence):
            return about
        q = about + evidence.mean(axis=0)
        return q / (np.linalg.norm(q) or 1.0)

    def _best(self, units: list[_Unit], query: np.ndarray, k: int) -> list[tuple[_Unit, float]]:
        if not units:
            return []
        sims = self._vectors(units) @ query
        order = np.argsort(-sims)[:k]
        return [(units[i], float(sims[i])) for i in order]

    def _why(self, pattern: str, query: np.ndarray) -> list[tuple[_Unit, float]]:
        """The note's description of the failure, then the article that shows it."""
        return self._best(self._looks[pattern], query, 1) + self._best_article(pattern, query)

    def _best_article(self, pattern: str, query: np.ndarray) -> list[tuple[_Unit, float]]:
        """The article sentence closest to the note (written from it) and to the query."""
        units = self._articles[pattern]
        if not units:
            return []
        vectors = self._vectors(units)
        note = self._vectors(self._failure[pattern] + self._remedy[pattern])
        to_note = (vectors @ note.T).max(axis=1) if len(note) else np.zeros(len(units))
        score = 0.5 * to_note + 0.5 * (vectors @ query)
        best = int(np.argmax(score))
        return [(units[best], float(score[best]))] if to_note[best] >= ARTICLE_FLOOR else []

    def _fix(self, pattern: str, query: np.ndarray) -> list[tuple[_Unit, float]]:
        """The two most fitting steps of the note's "What to do instead", in reading order."""
        best = self._best(self._remedy[pattern], query, 2)
        return sorted(
            best, key=lambda us: (int(us[0].passage.meta.get("position", 0)), us[0].position)
        )

    @staticmethod
    def _cite(chosen: list[tuple[_Unit, float]], cited: dict[str, Citation]) -> str:
        parts = []
        for unit, sim in chosen:
            p = unit.passage
            if p.id not in cited:
                cited[p.id] = Citation.of_passage(
                    len(cited) + 1, p.id, p.doc_id, p.text, p.meta, sim
                )
            parts.append(f"{display(unit.text)} [{cited[p.id].n}]")
        return " ".join(parts)

    def focus(self, question: str, review: Review, qtype: str = "") -> Finding | None:
        """The finding a follow-up question is about, or None if it is about none of them.

        The question is matched against all 12 patterns, so one about a pattern the review
        did not raise ("we signed before agreeing goals, is that a problem?") is answered on
        its own instead of being steered to an unrelated finding. ``qtype`` is the question's
        type (``advisor.ask.questions.QUESTION_TYPES``): a "who" question that leans on the
        review ("who should run it instead?") is about its finding on who leads or owns.
        """
        if not review.findings:
            return None
        asked = set(content_terms(question)) - _GENERIC_TERMS
        vector = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        sims = self._about @ vector
        by_pattern = {f.pattern: f for f in review.findings}
        scored = []
        for j, pattern in enumerate(self.patterns):
            spec = REGISTRY[pattern]
            words = set(content_terms(f"{spec.title} {spec.description}"))
            # Meaning first; a shared word only tips a close call ("goals" in a question
            # about buying before agreeing goals must not make it a broad-goals question).
            overlap = min(len(asked & words), 2)
            scored.append((float(sims[j]) + 0.05 * overlap, overlap, pattern))
        score, overlap, best = max(scored)
        if overlap or score >= FOCUS_FLOOR * 2:
            return by_pattern.get(best)
        leans = _LEANS_ON_REVIEW.search(question)
        if leans and score >= FOCUS_NEAR and best in by_pattern:
            return by_pattern[best]  # "how should we roll it out instead?": the rollout flag
        roles = [f for f in review.findings if f.pattern in REGISTRY and REGISTRY[f.pattern].roles]
        if leans and qtype == "who" and roles:
            return roles[0]
        first = review.findings[0]
        j = self.patterns.index(first.pattern) if first.pattern in self.patterns else -1
        # "why is that a problem?" names nothing of its own: it is about the first red flag.
        bare = len(asked) <= 1
        return first if leans and j >= 0 and (sims[j] >= FOCUS_FLOOR or bare) else None


def _own_words(sentence: PlanSentence, clause: str) -> str:
    """A clause as the plan wrote it: without the heading it was read with."""
    heading = len(sentence.context or sentence.text) - len(sentence.text)
    return clause[heading:]


def red_flags(readings: list[Reading]) -> list[Reading]:
    """The patterns shown, most severe and surest first."""
    rank = {"high": 0, "medium": 1, "low": 2}
    shown = [r for r in readings if r.basis == "shown"]
    return sorted(shown, key=lambda r: (rank[r.severity or "low"], -r.confidence))


def open_questions(readings: list[Reading]) -> list[Reading]:
    """At most ``MAX_QUESTIONS`` unaddressed patterns, the most consequential first.

    A topic the plan comes near without settling (``touched``) is asked before one it never
    mentions; within each, the registry's ``consequence`` order decides. A topic the plan
    leans towards guarding ("The CEO sponsors the project" for business ownership) is not
    asked, since the question would contradict the plan.
    """
    silent = [r for r in readings if r.basis == "not_addressed" and not r.leans_to_guard]
    silent.sort(key=lambda r: (r.touched < TOUCHED, REGISTRY[r.pattern].consequence))
    return silent[:MAX_QUESTIONS]
