"""The benchmark's table: one row per measurement and embedder, then the embedders compared.

Latency rows are judged by their p50 in floor p50s (the floor of the same embedder), the
others by their value; the comparison rows by the ratio of the two embedders' figures.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import click
import psutil

TARGET_IN_PROCESS_X = 1.5  # Advisor.ask p50, in floor p50s
TARGET_HTTP_X = 2.0  # /v1/ask p50 over HTTP, in floor p50s
TARGET_UNCHANGED_INGEST_S = 1.0
TARGET_REVIEW_S = 0.3  # Advisor.review p50 over the labelled plans (about a page or less)
TARGET_LONG_REVIEW_S = 2.0  # Advisor.review p50 of a plan of 3,000 words
TARGET_DOOR_OVERHEAD_MS = 5.0  # /v1/chat/completions and MCP p50s over /v1/ask's, at most
TARGET_COLD_START_S = 2.0  # spawn of `advisor serve` to its first answer
TARGET_PEAK_RSS_MB = 1.2 * 1024  # 1.2 GiB = 1.2 × 1024³ bytes, in MiB as every RSS here
# ONNX against PyTorch (issue 24), each a ratio of the two embedders' figures in one run
TARGET_EMBED_SPEEDUP_X = 1.5  # PyTorch's query-embedding p50 over ONNX's, at least
TARGET_RSS_SHARE = 0.5  # ONNX server's peak RSS over PyTorch's, at most
TARGET_THROUGHPUT_SHARE = 1.0  # ONNX throughput at the most clients over PyTorch's, at least


def targets() -> dict[str, float]:
    """Every target by name, for the JSON report."""
    return {k[7:].lower(): v for k, v in globals().items() if k.startswith("TARGET_")}


def machine() -> dict[str, Any]:
    """Where the figures were taken: CPU, memory, Python and the load of other work."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text(encoding="utf-8").splitlines() if cpuinfo.exists() else []
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), "")
    return {
        "cpus": os.cpu_count(),
        "cpu": model or platform.processor(),
        "memory_mb": round(psutil.virtual_memory().total / 2**20),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }


class Table:
    """Rows of name, p50, p95, p50 over the floor's, value, target and verdict."""

    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(
        self,
        name: str,
        stats: Any,
        value: Any,
        unit: str,
        limit: float | None = None,
        floor: float | None = None,
        at_least: bool = False,
    ) -> None:
        stats = stats if stats and "p50_ms" in stats else None
        ratio = stats["p50_ms"] / floor if stats and floor else None
        measure = ratio if stats else value
        ms = [f"{stats['p50_ms']:.1f}", f"{stats['p95_ms']:.1f}"] if stats else ["", ""]
        shown = value if isinstance(value, str) else f"{value:.{0 if 'MiB' in unit else 2}f}{unit}"
        goal = f"{'≥' if at_least else '≤'} {limit:g}{unit}" if limit else ""
        ok = ""
        if limit is not None and isinstance(measure, int | float):
            ok = "PASS" if (measure >= limit if at_least else measure <= limit) else "MISS"
        self.rows.append([name, *ms, f"{ratio:.2f}" if ratio else "", shown, goal, ok])


def _run_rows(t: Table, r: dict[str, Any], tag: str) -> None:
    floor, x = r.get("floor", {}).get("p50_ms"), "× floor"
    if "floor" in r:
        t.add(f"floor: bare model call + raw Chroma query [{tag}]", r["floor"], "", x, floor=floor)
        t.add(f"floor via LangChain Chroma [{tag}]", r["floor_langchain"], "", x, floor=floor)
        t.add(f"query embedding, bare model call [{tag}]", r["embed_bare"], "", x, floor=floor)
        t.add(f"query embedding, advisor's embedder [{tag}]", r["embed"], "", x, floor=floor)
        overhead = r["embed"]["p50_ms"] - r["embed_bare"]["p50_ms"]
        t.add(f"embedder overhead (lock, lone query) [{tag}]", None, overhead, " ms")
    if "in_process" in r:
        t.add(f"Advisor.ask in process [{tag}]", r["in_process"], "", x, TARGET_IN_PROCESS_X, floor)
    if "http" in r:
        t.add(f"/v1/ask over HTTP [{tag}]", r["http"], "", x, TARGET_HTTP_X, floor)
    for door, name in (("openai", "/v1/chat/completions"), ("mcp", "MCP ask_crm_advisor")):
        if door in r and "http" in r:
            t.add(f"{name} over HTTP [{tag}]", r[door], "", x, floor=floor)
            over = r[door]["p50_ms"] - r["http"]["p50_ms"]
            t.add(f"{name}: p50 over /v1/ask [{tag}]", None, over, " ms", TARGET_DOOR_OVERHEAD_MS)
    if "mcp_sdk" in r and "http" in r:  # a host's client library on top: no target
        t.add(f"MCP ask_crm_advisor via the SDK client [{tag}]", r["mcp_sdk"], "", x, floor=floor)
    if "review" in r:
        t.add(f"Advisor.review in process [{tag}]", r["review"], "", x, floor=floor)
        review_s = r["review"]["p50_ms"] / 1000
        t.add(f"review p50, labelled plans [{tag}]", None, review_s, " s", TARGET_REVIEW_S)
        long_s = r["review"]["long_plan"]["p50_ms"] / 1000  # words: long_plan_words in JSON
        t.add(f"review p50, a 3,000-word plan [{tag}]", None, long_s, " s", TARGET_LONG_REVIEW_S)
    for n, s in r.get("throughput", {}).items():
        rate = f"{s['throughput_rps']:.1f} req/s, {s['errors']} err"
        t.add(f"throughput, {n} client{'s' * (n != '1')} [{tag}]", s, rate, x, floor=floor)
    if "ingest" in r:
        t.add(f"ingest, full (with model load) [{tag}]", None, r["ingest"]["full_s"], " s")
        same = r["ingest"]["unchanged_s"]
        t.add(f"ingest, nothing changed [{tag}]", None, same, " s", TARGET_UNCHANGED_INGEST_S)
    if "cold_start" in r:
        t.add(f"cold start to /readyz [{tag}]", None, r["cold_start"]["ready_s"], " s")
        first = r["cold_start"]["first_answer_s"]
        t.add(f"cold start to first answer [{tag}]", None, first, " s", TARGET_COLD_START_S)
    for key, name in (("server_memory", "server"), ("bench_memory", "bench process")):
        if key in r:
            rss = r[key]["rss_max_mb"]
            t.add(f"peak RSS, {name} [{tag}]", None, rss, " MiB", TARGET_PEAK_RSS_MB)


def compare(runs: dict[str, dict[str, Any]]) -> dict[str, float]:
    """ONNX against PyTorch, as ratios of figures taken in the same run (none without both)."""
    onnx, torch = runs.get("onnx"), runs.get("torch")
    if not onnx or not torch:
        return {}
    out: dict[str, float] = {}
    if "embed" in onnx and "embed" in torch:
        out["embed_speedup_x"] = torch["embed"]["p50_ms"] / onnx["embed"]["p50_ms"]
    if "server_memory" in onnx and "server_memory" in torch:
        out["rss_share"] = (
            onnx["server_memory"]["rss_max_mb"] / torch["server_memory"]["rss_max_mb"]
        )
    levels = set(onnx.get("throughput", {})) & set(torch.get("throughput", {}))
    if levels:
        most = max(levels, key=int)
        rates = [r["throughput"][most]["throughput_rps"] for r in (onnx, torch)]
        out["throughput_share"], out["throughput_clients"] = rates[0] / rates[1], int(most)
    return out


def table(results: dict[str, Any]) -> list[list[str]]:
    """Every embedder's rows, then the comparison rows."""
    t = Table()
    for tag, run in results["runs"].items():
        _run_rows(t, run, tag)
    c = results.get("compare", {})
    if "embed_speedup_x" in c:
        t.add("onnx vs torch: query embedding p50, speed-up", None, c["embed_speedup_x"], "×",
              TARGET_EMBED_SPEEDUP_X, at_least=True)  # fmt: skip
    if "rss_share" in c:
        t.add("onnx vs torch: server peak RSS, share", None, c["rss_share"], "×", TARGET_RSS_SHARE)
    if "throughput_share" in c:
        name = f"onnx vs torch: throughput at {c['throughput_clients']} clients, share"
        t.add(name, None, c["throughput_share"], "×", TARGET_THROUGHPUT_SHARE, at_least=True)
    return t.rows


def print_table(rows: list[list[str]], machine: dict[str, Any], out: Path) -> None:
    """The table as aligned text, and the load average the figures were taken under."""
    header = ["measurement", "p50 ms", "p95 ms", "× floor", "value", "target", ""]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            c.ljust(w) if i in (0, 4, 5) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        click.echo("  ".join(cells).rstrip())
    m = machine
    click.echo(
        f"Load average {m['load_avg_start']} -> {m['load_avg_end']} on {m['cpus']} CPUs: other "
        f"work on the machine skews these figures. Wrote {out}"
    )
