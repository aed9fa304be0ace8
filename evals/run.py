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

from advisor import (
    CHAT_MODELS,
    Advisor,
    Answer,
    Composition,
    Generator,
    Retrieval,
    Segment,
    Settings,
    SupportChecker,
    names,
    numbers,
    split_sentences,
)
from evals import metrics as m
from evals.cases import CASE_RUNNERS, Tally
from evals.perturb import negate, swap_entity, swap_number
from evals.questions import evaluate_questions
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

    def compose(self, question: str, retrieval: Retrieval, qtype: str = "") -> Composition:
        """Compose as usual, then point every sentence at another passage."""
        out = self.inner.compose(question, retrieval, qtype)
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
    review_patterns: dict[str, Any] = field(default_factory=dict)
    questions: dict[str, Any] = field(default_factory=dict)  # rows per question split


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


def retrieval_by_mode(advisor: Advisor, answerable: list[dict[str, Any]]) -> dict[str, Any]:
    """hit@1, hit@5, MRR and context precision of each retrieval mode, on answerable cases."""
    modes: dict[str, dict[str, float]] = {}
    for mode in MODES:
        h1, h5, rr, cp = [], [], [], []
        aliases = m.doc_aliases(advisor.searcher.snapshot.passages)
        for case in answerable:
            result = advisor.searcher.search(case["question"], mode=mode)
            hits = sorted(result.hits, key=lambda h: -h.fused)
            expected = set(case["expected_docs"])
            ranking = m.aliased_ranking([h.passage.doc_id for h in hits], aliases, expected)
            h1.append(m.hit_at(ranking, expected, 1))
            h5.append(m.hit_at(ranking, expected, 5))
            rr.append(m.reciprocal_rank(ranking, expected))
            cp.append(
                m.context_precision(
                    [
                        bool(aliases.get(h.passage.doc_id, {h.passage.doc_id}) & expected)
                        for h in hits
                    ]
                )
            )
        modes[mode] = {
            "hit_at_1": _mean(h1),
            "hit_at_5": _mean(h5),
            "mrr": _mean(rr),
            "context_precision": _mean(cp),
        }
    return modes


def evaluate(
    advisor: Advisor,
    cases: list[dict[str, Any]],
    checker: SupportChecker,
    reviews: bool = True,
) -> EvalResult:
    """Run every case through the advisor and compute the metrics."""
    started = time.perf_counter()
    modes = retrieval_by_mode(advisor, [c for c in cases if c["type"] == "answerable"])
    tally = Tally(advisor)
    details = [CASE_RUNNERS[case["type"]](case, tally) for case in cases]
    hybrid = modes["hybrid"]
    metrics = {
        "hit_at_1": hybrid["hit_at_1"],
        "hit_at_5": hybrid["hit_at_5"],
        "mrr": hybrid["mrr"],
        "context_precision": hybrid["context_precision"],
        **answer_metrics(tally, checker),
        "support_auroc": support_auroc(checker, tally.grounded, advisor),
    }
    for stage, values in tally.timings.items():
        metrics[f"latency_{stage}_p50_ms"] = m.percentile(values, 50)
        metrics[f"latency_{stage}_p95_ms"] = m.percentile(values, 95)
    if advisor.writer is not None:
        metrics.update(llm_metrics(tally.llm_answers))
    review_rows: list[dict[str, Any]] = []
    question_rows: dict[str, Any] = {}
    review_patterns: dict[str, Any] = {}
    if reviews:
        review_metrics, review_rows, review_patterns = evaluate_reviews(advisor)
        metrics.update(review_metrics)
        ask_metrics, question_rows = evaluate_questions(advisor)
        metrics.update(ask_metrics)
    counts = {t: sum(1 for c in cases if c["type"] == t) for t in sorted(CASE_TYPES)}
    counts["answer_sentences"] = len(tally.grounded)
    return EvalResult(
        metrics,
        modes,
        details,
        counts,
        _generator_label(advisor),
        time.perf_counter() - started,
        review_rows,
        review_patterns,
        question_rows,
    )


def answer_metrics(tally: Tally, checker: SupportChecker) -> dict[str, float]:
    """Grounding, coverage, refusal and injection figures from what the cases collected."""
    recall, precision, _ = m.alce_citation_scores(checker, tally.grounded)
    support = [checker.check(s, p) for s, p in tally.grounded if p]
    unsupported_numbers = sum(
        len(numbers(sentence) - numbers("\n".join(passages)))
        for sentence, passages in tally.grounded
    )
    return {
        "sentence_support": _mean([float(s.supported) for s in support]) if support else 0.0,
        "citation_recall": recall,
        "citation_precision": precision,
        "unsupported_numbers": float(unsupported_numbers),
        "key_point_coverage": _mean(tally.coverage),
        "negative_rejection": _mean(tally.rejected),
        "false_refusal": _mean(tally.refused_answerable),
        "injection_resistance": _mean(tally.resisted),
        "multi_turn_hit_at_5": _mean(tally.mt_hits),
        "multi_turn_coverage": _mean(tally.mt_cov),
    }


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
                "review_patterns": result.review_patterns,
                "questions": result.questions,
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    return result, failed
