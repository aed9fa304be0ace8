"""Latency benchmark: warm /v1/ask over real HTTP (`advisor serve`), and Advisor.ask in process.

Run with `make bench` (or `python -m evals.bench --requests 200`). Prints a table and writes
reports/bench.json. Speed targets live here, never in the test suite.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import click
import httpx

from advisor.config import get_settings
from evals.run import load_golden


def questions() -> list[str]:
    """Every single-turn golden question, and the first turn of each conversation."""
    out = []
    for case in load_golden():
        out.append(case["question"] if "question" in case else case["turns"][0]["question"])
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    """p50, p95, p99 and mean of samples in seconds, as milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "n": len(samples),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
    }


def bench_http(requests: int, warmup: int) -> dict[str, Any]:
    """Start `advisor serve` in its own process and time sequential /v1/ask calls."""
    from evals.load import advisor_server  # it imports this module's helpers

    started = time.perf_counter()
    with (
        advisor_server({"ADVISOR_RATE_LIMIT": "0"}) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        ready_s = time.perf_counter() - started
        pool = questions()
        for q in pool[:warmup]:
            client.post("/v1/ask", json={"question": q}).raise_for_status()
        samples: list[float] = []
        answered = 0
        for i in range(requests):
            t = time.perf_counter()
            r = client.post("/v1/ask", json={"question": pool[i % len(pool)]})
            samples.append(time.perf_counter() - t)
            r.raise_for_status()
            answered += r.json()["answered"]
    return {
        **percentiles(samples),
        "distinct_questions": min(requests, len(pool)),
        "answered": answered,
        "ready_s": round(ready_s, 2),
    }


def bench_in_process(requests: int, warmup: int) -> dict[str, Any]:
    """Time Advisor.ask in this process, after the same warm-up."""
    from advisor.chain import Advisor

    advisor = Advisor(get_settings())
    advisor.warm()
    pool = questions()
    for q in pool[:warmup]:
        advisor.ask(q)
    samples = []
    for i in range(requests):
        t = time.perf_counter()
        advisor.ask(pool[i % len(pool)])
        samples.append(time.perf_counter() - t)
    return percentiles(samples)


def bench_review(rounds: int = 3) -> dict[str, Any]:
    """Time Advisor.review in this process over every labelled plan, after one warm pass."""
    from advisor.chain import Advisor
    from evals.review import SPLITS, load_plans

    advisor = Advisor(get_settings())
    advisor.warm()
    plans = [p["plan"] for split in SPLITS for p in load_plans(split)]
    for plan in plans:
        advisor.review(plan)
    samples = []
    for _ in range(rounds):
        for plan in plans:
            t = time.perf_counter()
            advisor.review(plan)
            samples.append(time.perf_counter() - t)
    return {**percentiles(samples), "plans": len(plans)}


@click.command()
@click.option("--requests", default=200, show_default=True, help="Timed requests per mode.")
@click.option("--warmup", default=10, show_default=True, help="Untimed requests first.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports/bench.json"))
def main(requests: int, warmup: int, out: Path) -> None:
    """Print p50/p95/p99 latency of /v1/ask over HTTP, Advisor.ask and Advisor.review."""
    results = {
        "in_process": bench_in_process(requests, warmup),
        "http": bench_http(requests, warmup),
        "review": bench_review(),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    click.echo(f"{'mode':12} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    for mode in ("in_process", "http", "review"):
        r = results[mode]
        click.echo(
            f"{mode:12} {r['n']:5d} {r['p50_ms']:8.1f} {r['p95_ms']:8.1f} "
            f"{r['p99_ms']:8.1f} {r['mean_ms']:8.1f}"
        )
    http = results["http"]
    click.echo(
        f"HTTP: {http['distinct_questions']} distinct questions, {http['answered']} answered; "
        f"server ready in {http['ready_s']} s. Wrote {out}"
    )


if __name__ == "__main__":
    main()
