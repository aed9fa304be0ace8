"""Plan review: diagnose a pasted CRM plan against the 12 failure patterns, with cited reasons.

``PlanReviewer`` reads the plan (``advisor.review.plan``), detects patterns
(``advisor.review.detect``), explains each finding from the corpus (why: the pattern's note
and the articles it rests on; fix: the note's "What to do instead"), restates the headline
goal when it is vague
(``advisor.review.goals``) and scores readiness. Every quoted sentence is a verbatim span of a
cited passage, as in answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from advisor.contract import Citation, Finding, Review, Strength
from advisor.knowledge.corpus import PATTERNS
from advisor.knowledge.embeddings import Embedder, VectorCache, embed_matrix
from advisor.knowledge.snapshot import IndexedPassage, IndexSnapshot
from advisor.quoting import display, passage_units
from advisor.review.classifier import SentenceClassifier
from advisor.review.detect import Semantics, detect
from advisor.review.goals import rewrite_goal
from advisor.review.plan import Plan, parse_plan
from advisor.text import content_terms

DESCRIPTIONS: dict[str, str] = {
    "goals_too_broad": "a vision with no tactical first steps",
    "strategy_too_generic": "a copy of what works elsewhere",
    "software_first": "the tool chosen before the strategy",
    "poor_data_quality": "data that is not timely, accurate, valid or consistent",
    "weak_integration": "no organisation-wide view across systems",
    "no_measurement": "no measurable objectives or ongoing ROI measurement",
    "no_resources": "no time, budget or people set aside",
    "it_only_ownership": "treated as a technology project that IT carries",
    "leadership_lip_service": "management says the customer is king but does not act on it",
    "ownership_politics": "departments fight over who owns the customer",
    "big_bang_rollout": "no pilot and no bite-size stages",
    "no_ongoing_management": "no plan for after go-live",
}
"""What each failure pattern means, in one line."""

STRENGTHS: dict[str, str] = {
    "goals_too_broad": "specific goals",
    "strategy_too_generic": "a strategy of your own",
    "software_first": "strategy before software",
    "poor_data_quality": "data quality",
    "weak_integration": "integration",
    "no_measurement": "measurement",
    "no_resources": "resourcing",
    "it_only_ownership": "business ownership",
    "leadership_lip_service": "leaders who take part",
    "ownership_politics": "rules for who owns the customer",
    "big_bang_rollout": "a piloted, staged rollout",
    "no_ongoing_management": "a plan for after go-live",
}
"""What a plan that guards against each pattern has got right."""

PENALTY = {"high": 20, "medium": 8, "low": 3}
_RANK = {"high": 0, "medium": 1, "low": 2}
_FAILURE_SECTIONS = ("What it looks like", "How to spot it in a plan")
_REMEDY_SECTION = "What to do instead"
NOT_ADDRESSED = "not addressed"
FOCUS_FLOOR = 0.2  # least similarity of a pronoun-only follow-up to the finding it is about
# Words that say a question leans on the review: pronouns, continuations, the plan itself.
_LEANS_ON_REVIEW = re.compile(
    r"(?i)\b(that|this|it|its|they|them|those|these|the same|plan|review|finding|gap|first"
    r"|instead)\b|^\s*(and|or|but|so|also|what about|how about|then)\b"
)
_GENERIC_TERMS = frozenset(content_terms("crm plan project review finding customer fix"))
ARTICLE_FLOOR = 0.5  # an article sentence further than this from the note adds nothing


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
        classifier: SentenceClassifier | None = None,
    ) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.classifier = classifier
        self._cache = VectorCache.shared(embedder)
        self.patterns = [p for p in PATTERNS if self._notes(p)]
        self._failure = {p: self._units(self._notes(p, _FAILURE_SECTIONS)) for p in self.patterns}
        self._remedy = {p: self._units(self._notes(p, (_REMEDY_SECTION,))) for p in self.patterns}
        self._looks = {p: self._units(self._notes(p, _FAILURE_SECTIONS[:1])) for p in self.patterns}
        self._articles = {p: self._units(self._articles_for(p)) for p in self.patterns}
        self._about = self._cache.vectors(
            [f"{PATTERNS[p]}: {DESCRIPTIONS[p]}" for p in self.patterns]
        )

    # -- corpus side -------------------------------------------------------------------
    def _notes(self, pattern: str, sections: tuple[str, ...] | None = None) -> list[IndexedPassage]:
        return [
            p
            for p in self.snapshot.passages
            if p.meta.get("kind") == "note"
            and p.meta.get("pattern") == pattern
            and (sections is None or p.meta.get("section") in sections)
        ]

    def _articles_for(self, pattern: str) -> list[IndexedPassage]:
        sources = {
            s.strip()
            for n in self._notes(pattern)
            for s in str(n.meta.get("sources", "")).split(",")
        }
        return [p for p in self.snapshot.passages if p.doc_id in sources and p.doc_id]

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
        texts = [f"{PATTERNS[p]}: {DESCRIPTIONS[p]}" for p in self.patterns]
        for table in (self._failure, self._remedy, self._looks, self._articles):
            for units in table.values():
                self._vectors(units)
                texts += [u.text for u in units]
        return texts

    # -- the review --------------------------------------------------------------------
    def semantics(self, plan: Plan) -> tuple[Semantics, np.ndarray]:
        """Each plan sentence's closeness to each pattern's failure and remedy descriptions."""
        vectors = embed_matrix(self.embedder, [s.text for s in plan.sentences])
        n = len(plan.sentences)
        failure = np.zeros((n, len(self.patterns)), dtype=np.float32)
        remedy = np.zeros_like(failure)
        for j, p in enumerate(self.patterns):
            if self._failure[p]:
                failure[:, j] = (vectors @ self._vectors(self._failure[p]).T).max(axis=1)
            if self._remedy[p]:
                remedy[:, j] = (vectors @ self._vectors(self._remedy[p]).T).max(axis=1)
        labels = None
        if self.classifier is not None:
            read = self.classifier.predict([s.context or s.text for s in plan.sentences])
            order = [self.classifier.patterns.index(p) for p in self.patterns]
            labels = read[:, order, :]
        return Semantics(self.patterns, failure, remedy, labels), vectors

    def review(self, text: str, conversation_id: str) -> Review:
        """Review a cleaned plan text; the caller stores it."""
        plan = parse_plan(text)
        sem, vectors = self.semantics(plan)
        decisions = detect(plan, sem)
        strengths = [
            Strength(pattern=d.pattern, title=STRENGTHS[d.pattern],
                     evidence=[plan.sentences[i].text for i in d.evidence[:2]])
            for d in decisions if d.severity is None and d.basis == "addressed"
        ]  # fmt: skip
        flagged = sorted(
            (d for d in decisions if d.severity is not None),
            key=lambda d: (_RANK[d.severity or "low"], -d.score),
        )
        cited: dict[str, Citation] = {}
        findings: list[Finding] = []
        for d in flagged:
            evidence = sorted(d.evidence[:3], key=lambda i: -sem.closeness(i, d.pattern))[:2]
            query = self._query(d.pattern, vectors[evidence] if evidence else None)
            findings.append(
                Finding(
                    pattern=d.pattern,
                    title=PATTERNS[d.pattern],
                    severity=d.severity,
                    basis="shown" if evidence else "not_addressed",
                    evidence=[plan.sentences[i].text for i in sorted(evidence)] or [NOT_ADDRESSED],
                    why=self._cite(self._why(d.pattern, query), cited),
                    fix=self._cite(self._fix(d.pattern, query), cited),
                    signals=d.reasons,
                    score=max(0.0, min(1.0, d.score)),
                )
            )
        readiness = max(0, 100 - sum(PENALTY[f.severity] for f in findings))
        verdict = "ready" if readiness >= 75 else "needs work" if readiness >= 50 else "not ready"
        serious = {f.pattern for f in findings if f.severity != "low"}
        goal = rewrite_goal(plan) if serious & {"goals_too_broad", "no_measurement"} else None
        review = Review(
            conversation_id=conversation_id,
            readiness=readiness,
            verdict=verdict,
            summary=summarise(findings, strengths, readiness, verdict),
            findings=findings,
            strengths=strengths,
            goal_rewrite=goal,
            citations=list(cited.values()),
        )
        review.text = render_review(review)
        return review

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
                cited[p.id] = Citation(
                    n=len(cited) + 1,
                    doc_id=p.doc_id,
                    title=str(p.meta.get("title", "")),
                    kind=p.meta.get("kind", "article"),
                    quote=p.text,
                    score=round(sim, 4),
                    passage_id=p.id,
                    section=str(p.meta.get("section", "")),
                    author=p.meta.get("author"),
                    publication=p.meta.get("publication"),
                    date=p.meta.get("date"),
                )
            parts.append(f"{display(unit.text)} [{cited[p.id].n}]")
        return " ".join(parts)

    def focus(self, question: str, review: Review) -> Finding | None:
        """The finding a follow-up question is about, or None if it is about none of them."""
        if not review.findings:
            return None
        asked = set(content_terms(question)) - _GENERIC_TERMS
        vector = np.asarray(self.embedder.embed_query(question), dtype=np.float32)
        scored = []
        for rank, f in enumerate(review.findings):
            words = set(content_terms(f"{f.title} {DESCRIPTIONS.get(f.pattern, '')}"))
            j = self.patterns.index(f.pattern) if f.pattern in self.patterns else -1
            sim = float(self._about[j] @ vector) if j >= 0 else 0.0
            scored.append((len(asked & words), sim - 0.01 * rank, f))
        overlap, sim, best = max(scored, key=lambda x: (x[0], x[1]))
        if overlap:
            return best
        leans = _LEANS_ON_REVIEW.search(question)
        return best if leans and sim >= FOCUS_FLOOR else None


def summarise(
    findings: list[Finding], strengths: list[Strength], readiness: int, verdict: str
) -> str:
    """A short plain summary: the score, the counts, what to fix first, what is already right."""
    counts = {s: sum(1 for f in findings if f.severity == s) for s in ("high", "medium", "low")}
    parts = [f"Readiness {readiness}/100: {verdict}."]
    if findings:
        listed = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        parts.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''} ({listed}).")
    else:
        parts.append("No failure pattern found.")
    urgent = [f.title for f in findings if f.severity == "high"][:3]
    if urgent:
        parts.append(f"Fix first: {_join([t.lower() for t in urgent])}.")
    elif findings and findings[0].severity == "medium":
        parts.append(f"Worth fixing: {findings[0].title.lower()}.")
    if strengths:
        parts.append(f"Already sound: {_join([s.title for s in strengths[:4]])}.")
    return " ".join(parts)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def render_review(review: Review) -> str:
    """The review as plain text: summary, findings with evidence, why and fix, goal rewrite."""
    lines = [f"Plan review: readiness {review.readiness}/100 ({review.verdict})", review.summary]
    if review.narrative:
        lines += ["", f"In brief ({review.narrative_by}): {review.narrative}"]
    for i, f in enumerate(review.findings, start=1):
        lines += ["", f"{i}. {f.title} ({f.severity})"]
        if f.severity == "low":
            lines += [f"   {'; '.join(f.signals).capitalize()}. What to do: {f.fix}"]
            continue
        if f.basis == "shown":
            lines += [f"   In your plan: “{e}”" for e in f.evidence]
        else:
            lines.append(f"   In your plan: {NOT_ADDRESSED} ({'; '.join(f.signals)})")
        lines += [f"   Why it matters: {f.why}", f"   What to do: {f.fix}"]
    if review.goal_rewrite:
        g = review.goal_rewrite
        lines += ["", f"Your headline goal, restated: {g.rewrite}", f"   (was: “{g.original}”)"]
    return "\n".join(lines)
