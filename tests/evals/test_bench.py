"""`make bench` end to end with tiny numbers: every section runs and reports sane figures.

No timing is asserted: the speed targets live in evals/bench.py, never in a test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from advisor.config import get_settings
from evals.bench import main

ROWS = [
    "floor: embed + Chroma query",
    "floor via LangChain Chroma",
    "Advisor.ask in process",
    "/v1/ask over HTTP",
    "Advisor.review in process",
    "review p50, labelled plans",
    "review p50, a 3,000-word plan",
    "throughput, 1 client",
    "throughput, 4 clients",
    "ingest, full (with model load)",
    "ingest, nothing changed",
    "cold start to /readyz",
    "cold start to first answer",
    "peak RSS, server",
    "peak RSS, bench process",
]


def test_bench_runs_every_section_and_writes_sane_figures(
    index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One small run: the table has every row, the JSON every section with non-zero figures."""
    # The shared index, read by this process and the servers it starts (they inherit the
    # environment); turns go to a private store, never the shared index dir's database.
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(index_dir))
    monkeypatch.setenv("ADVISOR_DATABASE_URL", f"sqlite:///{tmp_path / 'bench.db'}")
    get_settings.cache_clear()
    out = tmp_path / "bench.json"
    args = ["--requests", "5", "--warmup", "1", "--throughput-requests", "16", "--clients", "1,4"]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)

    printed = result.output.splitlines()
    for name in ROWS:
        assert any(line.startswith(name + " ") for line in printed), f"no row {name!r}"
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [row[0] for row in report["table"]] == ROWS
    for mode in ("floor", "floor_langchain", "in_process", "http", "review"):
        assert report[mode]["n"] == 5 and 0 < report[mode]["p50_ms"] <= report[mode]["p95_ms"]
    assert report["http"]["answered"] > 0 and report["http"]["server_total_p50_ms"] > 0
    long = report["review"]["long_plan"]
    assert report["review"]["long_plan_words"] >= 3000 and 0 < long["p50_ms"] <= long["p95_ms"]
    assert set(report["throughput"]) == {"1", "4"}
    for level in report["throughput"].values():
        assert level["requests"] == 16 and level["errors"] == 0 and level["throughput_rps"] > 0
    ingest = report["ingest"]
    assert ingest["full_s"] > 0 and ingest["unchanged_s"] > 0
    assert ingest["full"]["added"] > 0
    unchanged = ingest["unchanged"]
    assert unchanged["added"] == unchanged["updated"] == unchanged["deleted"] == 0
    cold = report["cold_start"]
    assert 0 < cold["ready_s"] <= cold["first_answer_s"]
    assert report["server_memory"]["rss_max_mb"] > 100  # the model alone is more
    assert report["bench_memory"]["rss_max_mb"] > 100
    assert report["machine"]["cpus"] >= 1 and report["setup"]["database"] == "sqlite"
    assert set(report["targets"]) == {
        "in_process_x",
        "http_x",
        "unchanged_ingest_s",
        "cold_start_s",
        "peak_rss_mb",
        "review_s",
        "long_review_s",
    }
    # Every measurement with a target is judged, whatever the verdict.
    judged = {row[0] for row in report["table"] if row[6]}
    assert judged == {ROWS[i] for i in (2, 3, 5, 6, 10, 12, 13, 14)}
