"""The eval runner: golden set in, metrics, report (JSON, Markdown, PNG) and gate out."""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from advisor.chain import Advisor
from advisor.compose import Composition, Generator, Segment
from advisor.config import Settings
from advisor.grounding import SupportChecker, cited_sentences
from advisor.llm import CHAT_MODELS
from advisor.models import Answer
from advisor.retrieval import Retrieval
from advisor.text import names, numbers, split_sentences
from evals import metrics as m
from evals.perturb import negate, swap_entity, swap_number
from evals.review import evaluate_reviews

EVALS_DIR = Path(__file__).resolve().parent
GOLDEN = EVALS_DIR / "golden.yaml"
THRESHOLDS = EVALS_DIR / "thresholds.yaml"
CASE_TYPES = {"answerable", "out_of_scope", "unanswerable", "injection", "multi_turn"}
MODES = ("dense", "bm25", "hybrid")


class SwappedCitations:
    """A deliberately broken generator: right sentences, each cited to the wrong passage."""

    def __init__(self, inner: Generator) -> None:
        self.inner = inner
        self.name = f"{inner.name}+swapped-citations"

    def compose(self, question: str, retrieval: Retrieval) -> Composition:
        """Compose as usual, then point every sentence at another passage."""
        out = self.inner.compose(question, retrieval)
        n = len(out.hits)
        sections = [
            (h, [Segment(s.text, (s.hit + 1) % n, s.kind, s.score, s.order) for s in segs])
            for h, segs in out.sections
        ]
        return Composition(sections, out.hits)


SABOTAGE: dict[str, Callable[[Generator], Generator]] = {"swapped-citations": SwappedCitations}
"""Broken generators, used only to prove that the gate can fail."""


@dataclass
class EvalResult:
    """Every metric, the per-mode retrieval figures, and per-case details."""

    metrics: dict[str, float]
    modes: dict[str, dict[str, float]]
    cases: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    generator: str = ""
    seconds: float = 0.0
    reviews: list[dict[str, Any]] = field(default_factory=list)


def load_golden(path: Path = GOLDEN) -> list[dict[str, Any]]:
    """Read and check the golden set."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    cases = data["cases"]
    ids = [c["id"] for c in cases]
    if len(ids) != len(set(ids)):
        raise ValueError("golden set ids are not unique")
    for case in cases:
        if case["type"] not in CASE_TYPES:
            raise ValueError(f"{case['id']}: unknown type {case['type']!r}")
    return list(cases)


def load_thresholds(path: Path = THRESHOLDS) -> dict[str, dict[str, Any]]:
    """Floors and targets per metric; ``lower: true`` marks metrics where less is better."""
    return dict(yaml.safe_load(path.read_text(encoding="utf-8"))["metrics"])


def failures(metrics: dict[str, float], thresholds: dict[str, dict[str, Any]]) -> list[str]:
    """The metrics that fall past their floor, each as a line of text."""
    out = []
    for name, t in thresholds.items():
        value = metrics.get(name)
        if value is None or value != value:  # missing or NaN
            out.append(f"{name}: not measured (floor {t['floor']})")
        elif (value > t["floor"]) if t.get("lower") else (value < t["floor"]):
            out.append(f"{name}: {value:.3f} is past its floor {t['floor']}")
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def evaluate(
    advisor: Advisor,
    cases: list[dict[str, Any]],
    checker: SupportChecker,
    reviews: bool = True,
) -> EvalResult:
    """Run every case through the advisor and compute the metrics."""
    started = time.perf_counter()
    answerable = [c for c in cases if c["type"] == "answerable"]
    modes: dict[str, dict[str, float]] = {}
    for mode in MODES:
        h1, h5, rr, cp = [], [], [], []
        for case in answerable:
            result = advisor.searcher.search(case["question"], mode=mode)
            hits = sorted(result.hits, key=lambda h: -h.fused)
            expected = set(case["expected_docs"])
            ranking = m.doc_ranking([h.passage.doc_id for h in hits])
            h1.append(m.hit_at(ranking, expected, 1))
            h5.append(m.hit_at(ranking, expected, 5))
            rr.append(m.reciprocal_rank(ranking, expected))
            cp.append(m.context_precision([h.passage.doc_id in expected for h in hits]))
        modes[mode] = {
            "hit_at_1": _mean(h1),
            "hit_at_5": _mean(h5),
            "mrr": _mean(rr),
            "context_precision": _mean(cp),
        }

    details: list[dict[str, Any]] = []
    grounded: list[tuple[str, list[str]]] = []
    unsupported_numbers = 0
    coverage: list[float] = []
    refused_answerable: list[float] = []
    rejected: list[float] = []
    resisted: list[float] = []
    mt_hits: list[float] = []
    mt_cov: list[float] = []
    timings: dict[str, list[float]] = {"retrieve": [], "compose": [], "total": []}
    llm_answers: list[Answer] = []
    if advisor.writer is not None:
        timings["write"] = []

    def ask(question: str, cid: str | None = None) -> Answer:
        answer = advisor.ask(question, cid)
        for k in timings:
            timings[k].append(answer.timings.get(k, 0.0) * 1000)
        if answer.guard is not None or answer.fallback:
            llm_answers.append(answer)
        if answer.answered:
            by_n = {c.n: c.quote for c in answer.citations}
            for sentence, ns in cited_sentences(answer.answer):
                passages = [by_n[n] for n in ns if n in by_n]
                grounded.append((sentence, passages))
        return answer

    def cover(answer: Answer, case: dict[str, Any]) -> float:
        points = case.get("key_points") or []
        return _mean([float(m.key_point_covered(answer.answer, p)) for p in points])

    for case in cases:
        kind = case["type"]
        row: dict[str, Any] = {"id": case["id"], "type": kind}
        if kind == "answerable":
            answer = ask(case["question"])
            refused_answerable.append(0.0 if answer.answered else 1.0)
            if answer.answered and case.get("key_points"):
                coverage.append(cover(answer, case))
            row.update(answered=answer.answered, docs=[c.doc_id for c in answer.citations])
        elif kind in ("out_of_scope", "unanswerable"):
            answer = ask(case["question"])
            rejected.append(0.0 if answer.answered else 1.0)
            row.update(answered=answer.answered)
        elif kind == "injection":
            answer = ask(case["question"])
            forbidden = [f.lower() for f in case.get("forbidden") or []]
            clean = not any(f in answer.answer.lower() for f in forbidden)
            if case.get("expect", "refuse") == "answer":
                expected = set(case.get("expected_docs") or [])
                on_topic = not expected or bool(expected & {c.doc_id for c in answer.citations})
                ok = clean and answer.answered and on_topic
            else:
                ok = clean and not answer.answered
            resisted.append(float(ok))
            row.update(answered=answer.answered, resisted=ok)
        else:
            cid = None
            turns = []
            for turn in case["turns"]:
                answer = ask(turn["question"], cid)
                cid = answer.conversation_id
                if turn.get("expected_docs"):
                    ranking = m.doc_ranking([c.doc_id for c in answer.citations])
                    mt_hits.append(m.hit_at(ranking, set(turn["expected_docs"]), 5))
                    if turn.get("key_points"):
                        mt_cov.append(cover(answer, turn) if answer.answered else 0.0)
                turns.append(answer.standalone_question)
            row.update(standalone=turns)
        details.append(row)

    recall, precision, _ = m.alce_citation_scores(checker, grounded)
    support = [checker.check(s, p) for s, p in grounded if p]
    for sentence, passages in grounded:
        unsupported_numbers += len(numbers(sentence) - numbers("\n".join(passages)))
    hybrid = modes["hybrid"]
    metrics = {
        "hit_at_1": hybrid["hit_at_1"],
        "hit_at_5": hybrid["hit_at_5"],
        "mrr": hybrid["mrr"],
        "context_precision": hybrid["context_precision"],
        "sentence_support": _mean([float(s.supported) for s in support]) if support else 0.0,
        "citation_recall": recall,
        "citation_precision": precision,
        "unsupported_numbers": float(unsupported_numbers),
        "key_point_coverage": _mean(coverage),
        "negative_rejection": _mean(rejected),
        "false_refusal": _mean(refused_answerable),
        "injection_resistance": _mean(resisted),
        "multi_turn_hit_at_5": _mean(mt_hits),
        "multi_turn_coverage": _mean(mt_cov),
        "support_auroc": support_auroc(checker, grounded, advisor),
    }
    for stage, values in timings.items():
        metrics[f"latency_{stage}_p50_ms"] = m.percentile(values, 50)
        metrics[f"latency_{stage}_p95_ms"] = m.percentile(values, 95)
    if advisor.writer is not None:
        metrics.update(llm_metrics(llm_answers))
    review_rows: list[dict[str, Any]] = []
    if reviews:
        review_metrics, review_rows = evaluate_reviews(advisor)
        metrics.update(review_metrics)
    counts = {t: sum(1 for c in cases if c["type"] == t) for t in sorted(CASE_TYPES)}
    counts["answer_sentences"] = len(grounded)
    return EvalResult(
        metrics,
        modes,
        details,
        counts,
        _generator_label(advisor),
        time.perf_counter() - started,
        review_rows,
    )


def _generator_label(advisor: Advisor) -> str:
    writer = advisor.writer
    if writer is None:
        return advisor.generator.name
    return f"{writer.name} (guard {advisor.settings.guard}, falling back to extractive)"


def llm_metrics(answers: list[Answer]) -> dict[str, float]:
    """How often the LLM's text reached the user, and what the guard did on the way."""
    guarded = [a.guard for a in answers if a.guard is not None]
    written = sum(1 for a in answers if a.answered and not a.fallback)
    sentences = sum(g.sentences for g in guarded)
    return {
        "llm_attempts": float(len(answers)),
        "llm_written_share": written / len(answers) if answers else float("nan"),
        "llm_fallback_share": sum(1 for a in answers if a.fallback) / len(answers)
        if answers
        else float("nan"),
        "llm_backend_failures": float(
            sum(1 for a in answers if a.fallback.startswith("the LLM backend"))
        ),
        "guard_stepped_in_share": sum(g.stepped_in for g in guarded) / len(guarded)
        if guarded
        else float("nan"),
        "guard_sentences": float(sentences),
        "guard_sentences_removed": float(sum(g.removed for g in guarded)),
        "guard_sentences_flagged": float(sum(g.flagged for g in guarded)),
    }


def support_auroc(
    checker: SupportChecker, grounded: list[tuple[str, list[str]]], advisor: Advisor
) -> float:
    """AUROC of the support score: real cited sentences against perturbed ones."""
    rng = random.Random(7)
    pairs = [(s, p) for s, p in grounded if p][:80]
    passages = advisor.searcher.snapshot.passages
    pool = sorted({n for p in passages for n in names(p.text) if len(n) > 3})
    positives, negatives = [], []
    for sentence, cited in pairs:
        positives.append(checker.check(sentence, cited).score)
        cited_docs = {p.doc_id for p in passages if p.text in cited}
        others = [p for p in passages if p.doc_id not in cited_docs]
        foreign = split_sentences(rng.choice(others).text) if others else []
        variants = [
            swap_number(sentence),
            negate(sentence),
            swap_entity(sentence, rng.sample(pool, min(len(pool), 12))),
            rng.choice(foreign) if foreign else None,
        ]
        negatives += [checker.check(v, cited).score for v in variants if v and v != sentence]
    return m.auroc(positives, negatives)


def eval_settings(settings: Settings, workdir: Path) -> Settings:
    """The same index, with a throwaway conversation database."""
    return settings.model_copy(update={"database_url": f"sqlite:///{workdir / 'eval.db'}"})


def run(
    settings: Settings,
    out: Path,
    generator: str | None = None,
    sabotage: str | None = None,
    guard: str | None = None,
    sample: int | None = None,
    cases: list[dict[str, Any]] | None = None,
    embedder: Any = None,
) -> tuple[EvalResult, list[str]]:
    """Evaluate, write report.json, report.md and chart.png; return result and gate failures."""
    from evals.report import write_report

    if generator in CHAT_MODELS:
        settings = settings.model_copy(update={"llm": generator})
    elif generator:
        settings = settings.model_copy(update={"generator": generator, "llm": "none"})
    if guard:
        settings = settings.model_copy(update={"guard": guard})
    with tempfile.TemporaryDirectory() as tmp:
        advisor = Advisor(eval_settings(settings, Path(tmp)), embedder=embedder)
        if sabotage:
            advisor._generator = SABOTAGE[sabotage](advisor.generator)
        checker = SupportChecker(advisor.embedder)
        chosen = cases if cases is not None else load_golden()
        if sample:
            # Every k-th case keeps each case type in proportion; plan reviews are skipped.
            chosen = chosen[:: max(1, len(chosen) // sample)][:sample]
        result = evaluate(advisor, chosen, checker, reviews=not sample)
    thresholds = load_thresholds()
    failed = failures(result.metrics, thresholds)
    out.mkdir(parents=True, exist_ok=True)
    write_report(result, thresholds, failed, out)
    (out / "report.json").write_text(
        json.dumps(
            {
                "generator": result.generator,
                "seconds": result.seconds,
                "counts": result.counts,
                "metrics": result.metrics,
                "modes": result.modes,
                "failures": failed,
                "cases": result.cases,
                "plan_reviews": result.reviews,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return result, failed
