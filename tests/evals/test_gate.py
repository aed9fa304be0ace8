"""The eval gate: it passes on the real composer and fails on a broken one."""

from __future__ import annotations

from pathlib import Path

from advisor.config import Settings
from evals.run import failures, load_golden, load_thresholds, run


def _subset() -> list[dict]:  # type: ignore[type-arg]
    cases = load_golden()
    picked: list[dict] = []  # type: ignore[type-arg]
    for kind, n in (("answerable", 12), ("out_of_scope", 3), ("unanswerable", 2)):
        picked += [c for c in cases if c["type"] == kind][:n]
    return picked


def test_golden_set_is_big_and_varied() -> None:
    cases = load_golden()
    assert len(cases) >= 60
    kinds = {c["type"] for c in cases}
    assert kinds == {"answerable", "out_of_scope", "unanswerable", "injection", "multi_turn"}


def test_swapped_citations_fail_the_gate(settings: Settings, embedder, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good, _ = run(settings, tmp_path / "good", cases=_subset(), embedder=embedder)
    bad, failed = run(
        settings, tmp_path / "bad", cases=_subset(), embedder=embedder, sabotage="swapped-citations"
    )
    thresholds = load_thresholds()
    assert not [f for f in failures(good.metrics, thresholds) if "citation" in f or "support" in f]
    assert bad.metrics["citation_recall"] < good.metrics["citation_recall"]
    assert any(f.startswith("citation_recall") for f in failed)
    assert any(f.startswith("sentence_support") for f in failed)
    for name in ("report.json", "report.md", "chart.png"):
        assert (tmp_path / "bad" / name).stat().st_size > 0
    assert "FAIL" in (tmp_path / "bad" / "report.md").read_text()


def test_a_missing_metric_fails_the_gate() -> None:
    assert failures({}, {"hit_at_1": {"floor": 0.5, "target": 1}}) == [
        "hit_at_1: not measured (floor 0.5)"
    ]
    assert failures({"false_refusal": 0.2}, {"false_refusal": {"floor": 0.1, "lower": True}})
