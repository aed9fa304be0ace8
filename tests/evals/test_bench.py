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

RUN_ROWS = [
    "floor: bare model call + raw Chroma query",
    "floor via LangChain Chroma",
    "query embedding, bare model call",
    "query embedding, advisor's embedder",
    "embedder overhead (lock, lone query)",
    "Advisor.ask in process",
    "/v1/ask over HTTP",
    "/v1/chat/completions over HTTP",
    "/v1/chat/completions: p50 over /v1/ask",
    "MCP ask_crm_advisor over HTTP",
    "MCP ask_crm_advisor: p50 over /v1/ask",
    "MCP ask_crm_advisor via the SDK client",
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
JUDGED = {5, 6, 8, 10, 13, 14, 18, 20, 21, 22}  # rows with a target, whatever their verdict
COMPARED = [
    "onnx vs torch: query embedding p50, speed-up",
    "onnx vs torch: server peak RSS, share",
    "onnx vs torch: throughput at 4 clients, share",
]
ROWS = [f"{row} [{tag}]" for tag in ("onnx", "torch") for row in RUN_ROWS] + COMPARED


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
    assert list(report["runs"]) == ["onnx", "torch"]
    for tag, run in report["runs"].items():
        assert run["setup"]["backend"] == tag
        _sane_run(run)
    assert (
        report["runs"]["onnx"]["setup"]["embedder"] == report["runs"]["torch"]["setup"]["embedder"]
    )
    assert set(report["compare"]) == {
        "embed_speedup_x", "rss_share", "throughput_share", "throughput_clients"
    }  # fmt: skip
    assert all(v > 0 for v in report["compare"].values())
    assert report["machine"]["cpus"] >= 1 and report["setup"]["database"] == "sqlite"
    assert set(report["targets"]) == {
        "in_process_x",
        "http_x",
        "unchanged_ingest_s",
        "cold_start_s",
        "door_overhead_ms",
        "peak_rss_mb",
        "review_s",
        "long_review_s",
        "embed_speedup_x",
        "rss_share",
        "throughput_share",
    }
    # Every measurement with a target is judged, whatever the verdict.
    judged = {row[0] for row in report["table"] if row[6]}
    wanted = {f"{RUN_ROWS[i]} [{tag}]" for tag in ("onnx", "torch") for i in JUDGED}
    assert judged == wanted | set(COMPARED)


def test_an_unknown_embedder_is_refused() -> None:
    result = CliRunner().invoke(main, ["--embedders", "onnx,gpu"])
    assert result.exit_code == 2 and "--embedders" in result.output


def _sane_run(run: dict) -> None:  # type: ignore[type-arg]
    modes = ("floor", "floor_langchain", "embed_bare", "embed", "in_process", "http", "review")
    for mode in (*modes, "openai", "mcp", "mcp_sdk"):
        assert run[mode]["n"] == 5 and 0 < run[mode]["p50_ms"] <= run[mode]["p95_ms"]
    assert run["http"]["answered"] > 0 and run["http"]["server_total_p50_ms"] > 0
    long = run["review"]["long_plan"]
    assert run["review"]["long_plan_words"] >= 3000 and 0 < long["p50_ms"] <= long["p95_ms"]
    assert set(run["throughput"]) == {"1", "4"}
    for level in run["throughput"].values():
        assert level["requests"] == 16 and level["errors"] == 0 and level["throughput_rps"] > 0
    ingest = run["ingest"]
    assert ingest["full_s"] > 0 and ingest["unchanged_s"] > 0
    assert ingest["full"]["added"] > 0
    unchanged = ingest["unchanged"]
    assert unchanged["added"] == unchanged["updated"] == unchanged["deleted"] == 0
    cold = run["cold_start"]
    assert 0 < cold["ready_s"] <= cold["first_answer_s"]
    assert run["server_memory"]["rss_max_mb"] > 100  # the model alone is more
    assert run["bench_memory"]["rss_max_mb"] > 100
