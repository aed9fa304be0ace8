"""Load and soak runs: many concurrent clients on /v1/ask of a real `advisor serve` on loopback.

`make load` sends 2,000 requests from 32 clients and reports errors, throughput and latency;
`make soak` keeps 8 clients busy for 10 minutes and reports the server's resident memory.
Every answered turn is then looked up in the store, so a lost write counts as an error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx

from evals.harness import MemorySampler, advisor_server, percentiles, questions
from evals.run import load_golden

LOAD_KEY = "load-test-key"


def follow_ups() -> list[str]:
    """The second and later turns of the golden conversations: questions that lean on history."""
    return [t["question"] for c in load_golden() if "turns" in c for t in c["turns"][1:]]


@dataclass
class LoadResult:
    """What a run saw: latencies of successes, and every failure."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    turns: list[tuple[str, int]] = field(default_factory=list)
    answered: int = 0
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        """Requests completed, successful or not."""
        return len(self.latencies) + len(self.errors)

    def summary(self) -> dict[str, Any]:
        """Counts, throughput and latency percentiles."""
        stats = percentiles(self.latencies) if len(self.latencies) > 1 else {}
        return {
            "requests": self.requests,
            "errors": len(self.errors),
            "error_samples": self.errors[:5],
            "answered": self.answered,
            "seconds": round(self.seconds, 1),
            "throughput_rps": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            **stats,
        }


async def _client(
    http: httpx.AsyncClient,
    worker: int,
    budget: Iterator[int],
    stop_at: float,
    result: LoadResult,
    pool: list[str],
    follow: list[str],
) -> None:
    """One client: new questions, and every fourth request a follow-up in its conversation."""
    conversation: str | None = None
    for n in budget:
        if time.monotonic() >= stop_at:
            return
        body: dict[str, Any]
        if conversation and n % 4 == 3:
            body = {"question": follow[(n + worker) % len(follow)], "conversation_id": conversation}
        else:
            body = {"question": pool[(n * 7 + worker) % len(pool)]}
        started = time.perf_counter()
        try:
            response = await http.post("/v1/ask", json=body)
        except httpx.HTTPError as exc:
            result.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            result.errors.append(f"{response.status_code}: {response.text[:200]}")
            continue
        answer = response.json()
        if answer["answered"] and not answer["citations"]:
            result.errors.append(f"an answer without citations: {answer['answer'][:120]}")
            continue
        result.latencies.append(elapsed)
        result.answered += bool(answer["answered"])
        result.turns.append((answer["conversation_id"], answer["turn"]))
        conversation = answer["conversation_id"]


async def _drive(
    url: str, clients: int, requests: int | None, duration: float | None, key: str | None
) -> LoadResult:
    result = LoadResult()
    pool, follow = questions(), follow_ups()
    counter = iter(range(requests)) if requests else _forever()
    stop_at = time.monotonic() + duration if duration else float("inf")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120, limits=limits) as http:
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(http, w, counter, stop_at, result, pool, follow) for w in range(clients))
        )
        result.seconds = time.perf_counter() - started
    return result


def _forever() -> Iterator[int]:
    n = 0
    while True:
        yield n
        n += 1


def drive(
    url: str,
    clients: int = 32,
    requests: int | None = 2000,
    duration: float | None = None,
    key: str | None = None,
) -> LoadResult:
    """Send ``requests`` (or run for ``duration`` seconds) from ``clients`` concurrent clients."""
    return asyncio.run(_drive(url, clients, requests, duration, key))


def missing_turns(url: str, turns: list[tuple[str, int]], key: str | None = None) -> list[str]:
    """Every (conversation, turn) the server answered that its store does not hold."""
    wanted: dict[str, set[int]] = {}
    for cid, turn in turns:
        wanted.setdefault(cid, set()).add(turn)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    missing = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        for cid, numbers in wanted.items():
            response = client.get(f"/v1/conversations/{cid}")
            held = {t["turn"] for t in response.json().get("turns", [])}
            missing += [f"{cid}#{n}" for n in sorted(numbers - held)]
    return missing


def server_env(data_dir: Path | None = None, database_url: str | None = None) -> dict[str, str]:
    """The load server's environment: one API key, no rate limit (one key drives it all)."""
    env = {"ADVISOR_API_KEYS": LOAD_KEY, "ADVISOR_RATE_LIMIT": "0"}
    if data_dir is not None:
        env["ADVISOR_DATA_DIR"] = str(data_dir)
    if database_url is not None:
        env["ADVISOR_DATABASE_URL"] = database_url
    return env


@click.command()
@click.option("--clients", default=32, show_default=True, help="Concurrent clients.")
@click.option("--requests", default=2000, show_default=True, help="Requests in a load run.")
@click.option("--soak", "soak_s", type=float, help="Run for this many seconds instead (soak).")
@click.option("--sample-every", default=10.0, show_default=True, help="Soak: RSS sample period.")
@click.option("--warmup", default=60.0, show_default=True, help="Soak: seconds before RSS counts.")
@click.option("--out", type=click.Path(path_type=Path), help="Write the report as JSON here.")
def main(
    clients: int,
    requests: int,
    soak_s: float | None,
    sample_every: float,
    warmup: float,
    out: Path | None,
) -> None:
    """Load or soak a fresh `advisor serve` (on the built index) and print what it saw."""
    # The store under test is a scratch database, so a run never fills the real one.
    scratch = Path(os.environ.get("ADVISOR_DATA_DIR", ".advisor")) / "load.db"
    scratch.unlink(missing_ok=True)
    env = server_env(database_url=f"sqlite:///{scratch.resolve()}")
    with advisor_server(env) as server:
        with MemorySampler(server, sample_every) as memory:
            if soak_s:
                result = drive(server.url, clients, None, soak_s, key=LOAD_KEY)
            else:
                result = drive(server.url, clients, requests, key=LOAD_KEY)
        lost = missing_turns(server.url, result.turns, key=LOAD_KEY)
    report = {
        "mode": "soak" if soak_s else "load",
        "clients": clients,
        **result.summary(),
        "lost_turns": len(lost),
        "memory": memory.report(warmup if soak_s else 0.0),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    click.echo(json.dumps({k: v for k, v in report.items() if k != "error_samples"}, indent=2))
    for sample in report["error_samples"]:
        click.echo(f"error: {sample}", err=True)
    if report["errors"] or lost:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
