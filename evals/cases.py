"""The golden cases by type: each runner asks the advisor and records what its metrics need.

``evals.run.evaluate`` hands every case to ``CASE_RUNNERS[case["type"]]``; the runners
share one ``Tally`` of grounded sentences, coverage, refusals, timings and LLM answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from advisor import Advisor, Answer, cited_sentences
from evals import metrics as m


def mean(values: list[float]) -> float:
    """The mean, or NaN for no values (a metric that was not measured)."""
    return sum(values) / len(values) if values else float("nan")


@dataclass
class Tally:
    """What the case runners collect for the metrics."""

    advisor: Advisor
    grounded: list[tuple[str, list[str]]] = field(default_factory=list)  # (sentence, passages)
    coverage: list[float] = field(default_factory=list)
    refused_answerable: list[float] = field(default_factory=list)
    rejected: list[float] = field(default_factory=list)
    resisted: list[float] = field(default_factory=list)
    mt_hits: list[float] = field(default_factory=list)
    mt_cov: list[float] = field(default_factory=list)
    timings: dict[str, list[float]] = field(default_factory=dict)  # milliseconds per stage
    llm_answers: list[Answer] = field(default_factory=list)
    aliases: dict[str, set[str]] = field(default_factory=dict)  # what answer entries stand for

    def __post_init__(self) -> None:
        self.aliases = m.doc_aliases(self.advisor.searcher.snapshot.passages)
        self.timings = {"retrieve": [], "compose": [], "total": []}
        if self.advisor.writer is not None:
            self.timings["write"] = []

    def ask(self, question: str, cid: str | None = None) -> Answer:
        """Ask, and record the answer's timings, LLM use and cited sentences."""
        answer = self.advisor.ask(question, cid)
        for k in self.timings:
            self.timings[k].append(answer.timings.get(k, 0.0) * 1000)
        if answer.guard is not None or answer.fallback:
            self.llm_answers.append(answer)
        if answer.answered:
            by_n = {c.n: c.quote for c in answer.citations}
            for sentence, ns in cited_sentences(answer.answer):
                self.grounded.append((sentence, [by_n[n] for n in ns if n in by_n]))
        return answer


def cover(answer: Answer, case: dict[str, Any]) -> float:
    """The share of the case's key points that the answer covers."""
    points = case.get("key_points") or []
    return mean([float(m.key_point_covered(answer.answer, p)) for p in points])


def answerable(case: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """A question the corpus answers: refused or not, key-point coverage, documents cited."""
    answer = tally.ask(case["question"])
    tally.refused_answerable.append(0.0 if answer.answered else 1.0)
    if answer.answered and case.get("key_points"):
        tally.coverage.append(cover(answer, case))
    docs = [c.doc_id for c in answer.citations]
    return {"id": case["id"], "type": case["type"], "answered": answer.answered, "docs": docs}


def negative(case: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """An out-of-scope or unanswerable question: it must be refused."""
    answer = tally.ask(case["question"])
    tally.rejected.append(0.0 if answer.answered else 1.0)
    return {"id": case["id"], "type": case["type"], "answered": answer.answered}


def injection(case: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """An injection attempt: refused (or answered on topic) without the forbidden text."""
    answer = tally.ask(case["question"])
    forbidden = [f.lower() for f in case.get("forbidden") or []]
    clean = not any(f in answer.answer.lower() for f in forbidden)
    if case.get("expect", "refuse") == "answer":
        expected = set(case.get("expected_docs") or [])
        cited = {a for c in answer.citations for a in tally.aliases.get(c.doc_id, {c.doc_id})}
        on_topic = not expected or bool(expected & cited)
        ok = clean and answer.answered and on_topic
    else:
        ok = clean and not answer.answered
    tally.resisted.append(float(ok))
    return {"id": case["id"], "type": case["type"], "answered": answer.answered, "resisted": ok}


def multi_turn(case: dict[str, Any], tally: Tally) -> dict[str, Any]:
    """A conversation: each follow-up's hit@5 and coverage, and its standalone question."""
    cid = None
    turns = []
    for turn in case["turns"]:
        answer = tally.ask(turn["question"], cid)
        cid = answer.conversation_id
        if turn.get("expected_docs"):
            expected = set(turn["expected_docs"])
            cited = [c.doc_id for c in answer.citations]
            ranking = m.aliased_ranking(cited, tally.aliases, expected)
            tally.mt_hits.append(m.hit_at(ranking, expected, 5))
            if turn.get("key_points"):
                tally.mt_cov.append(cover(answer, turn) if answer.answered else 0.0)
        turns.append(answer.standalone_question)
    return {"id": case["id"], "type": case["type"], "standalone": turns}


CASE_RUNNERS: dict[str, Callable[[dict[str, Any], Tally], dict[str, Any]]] = {
    "answerable": answerable,
    "out_of_scope": negative,
    "unanswerable": negative,
    "injection": injection,
    "multi_turn": multi_turn,
}
"""The runner of each golden case type."""
