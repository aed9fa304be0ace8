"""Slack latency against the fake Web API: how soon a manager sees the bot respond.

Signed events go to the real app (bolt on FastAPI, uvicorn on loopback) and the fake Slack
(``tests/bot/fake_slack.py``, with native streaming on) records when each call arrives, on
the same clock. Measured per event, from the moment its POST starts:

- ``status``: a pane message to ``assistant.threads.setStatus`` (the "thinking" line);
- ``stream_start``: a mention to ``chat.startStream`` (the reply appears);
- ``first_chunk``: a mention to the first ``chat.appendStream`` (the first words);
- ``stop``: a mention to ``chat.stopStream`` (sources and buttons in place).

`make bench` runs it after ``evals.bench``; the targets only fill the PASS/MISS column.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import httpx
import uvicorn
from pydantic import SecretStr

from advisor import Advisor, Settings
from bot.app import create_app
from bot.settings import DoorSettings
from evals.harness import percentiles, questions
from tests.bot.fake_slack import TEAM, FakeSlack, signed_headers

TARGET_STATUS_MS = 200.0  # event → first status update, p50
TARGET_FIRST_CHUNK_MS = 300.0  # event → first streamed chunk, p50
SECRET = "bench-signing-secret"


@contextmanager
def slack_app(settings: Settings, slack: FakeSlack) -> Iterator[str]:
    """The HTTP app with Slack on, against the fake, on a free loopback port."""
    door = DoorSettings(
        slack_bot_token=SecretStr("xoxb-bench"),
        slack_signing_secret=SecretStr(SECRET),
        slack_api_url=slack.url,
    )
    advisor = Advisor(settings)
    advisor.warm()
    config = uvicorn.Config(create_app(settings, advisor, door), port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/slack/events"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def send(http: httpx.Client, url: str, event: dict[str, Any], event_id: str) -> float:
    """POST one signed event; return when the POST started (time.monotonic)."""
    payload = {"team_id": TEAM, "api_app_id": "A1", "type": "event_callback", "event": event}
    body = json.dumps({**payload, "event_id": event_id, "event_time": int(time.time())})
    started = time.monotonic()
    http.post(url, content=body, headers=signed_headers(SECRET, body, "application/json"))
    return started


def after(slack: FakeSlack, method: str, since: int, timeout: float = 60.0) -> float:
    """When the first ``method`` call after call number ``since`` arrived."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        hit = next((c for c in slack.calls[since:] if c["method"] == method), None)
        if hit:
            return float(hit["at"])
        time.sleep(0.002)
    raise RuntimeError(f"no {method} within {timeout:.0f}s")


def measure(
    http: httpx.Client, url: str, slack: FakeSlack, pool: list[str], numbers: range
) -> dict[str, list[float]]:
    """Latencies (seconds) of one mention and one pane message per number (event ids)."""
    seen: dict[str, list[float]] = {"status": [], "stream_start": [], "first_chunk": [], "stop": []}
    for i in numbers:
        ts = f"1750000000.{i:06d}"
        mark = len(slack.calls)
        at = send(http, url, _mention(pool[i % len(pool)], ts), f"EvB{i}")
        seen["stream_start"].append(after(slack, "chat.startStream", mark) - at)
        seen["first_chunk"].append(after(slack, "chat.appendStream", mark) - at)
        seen["stop"].append(after(slack, "chat.stopStream", mark) - at)
        mark = len(slack.calls)
        at = send(http, url, _pane(pool[(i + 7) % len(pool)], ts), f"EvBP{i}")
        seen["status"].append(after(slack, "assistant.threads.setStatus", mark) - at)
        after(slack, "chat.stopStream", mark)  # the next event waits for this answer
    return seen


def _mention(text: str, ts: str) -> dict[str, Any]:
    return {"type": "app_mention", "user": "U1", "text": f"<@UBOT> {text}", "ts": ts,
            "channel": "C1", "event_ts": ts}  # fmt: skip


def _pane(text: str, ts: str) -> dict[str, Any]:
    thread = f"1760000000.{ts[-6:]}"
    return {"type": "message", "channel_type": "im", "user": "U1", "channel": "D1",
            "text": text, "ts": ts, "thread_ts": thread, "event_ts": ts}  # fmt: skip


@click.command()
@click.option("--requests", default=40, show_default=True, help="Timed events of each kind.")
@click.option("--warmup", default=3, show_default=True, help="Untimed events first.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports/bench-slack.json"))
def main(requests: int, warmup: int, out: Path) -> None:
    """Print Slack's latency table, and write it as JSON."""
    pool = questions()
    with tempfile.TemporaryDirectory() as scratch:
        database = f"sqlite:///{Path(scratch) / 'bench.db'}"  # bench turns stay out of the store
        settings = Settings().model_copy(update={"database_url": database})
        with FakeSlack() as slack, slack_app(settings, slack) as url, httpx.Client() as http:
            slack.streaming = True
            measure(http, url, slack, pool, range(warmup))
            timed = measure(http, url, slack, pool, range(warmup, warmup + requests))
    results = {k: percentiles(v) for k, v in timed.items()}
    targets = {"status": TARGET_STATUS_MS, "first_chunk": TARGET_FIRST_CHUNK_MS}
    print(f"{'event to':<14}{'p50 ms':>9}{'p95 ms':>9}{'target':>9}")
    for name, stats in results.items():
        target = targets.get(name)
        verdict = "" if target is None else ("PASS" if stats["p50_ms"] <= target else "MISS")
        limit = f"{target:.0f}" if target else ""
        print(f"{name:<14}{stats['p50_ms']:>9.1f}{stats['p95_ms']:>9.1f}{limit:>9}  {verdict}")
    report = {"slack": results, "targets_p50_ms": targets, "load_avg": os.getloadavg()}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
