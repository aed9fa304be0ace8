"""Two `advisor serve` processes sharing a Chroma server and PostgreSQL, as two workers would.

Each test addresses each process directly, on its own port: how the kernel spreads new
connections over the workers of one port is not the test's to rely on. A separate test
checks that `--workers 2` starts two workers behind one port.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import psutil
import pytest

from advisor.config import Settings
from advisor.knowledge.ingest import ingest
from evals.harness import Server, advisor_server
from tests.bot.fake_slack import TEAM, FakeSlack, signed_headers
from tests.servers import fresh_database

SECRET = "workers-signing-secret"
KEYS = ("conversation-key", "burst-key")
BURST, PER_MINUTE = 10, 60


@dataclass
class Cluster:
    """The two running servers, the environment they share, and the fake Slack they post to."""

    servers: list[Server]
    slack: FakeSlack
    env: dict[str, str]

    def request(
        self, method: str, path: str, worker: int, key: str = KEYS[0], **kw: Any
    ) -> httpx.Response:
        """One request to one chosen server."""
        headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
        url = f"{self.servers[worker].url}{path}"
        return httpx.request(method, url, headers=headers, timeout=60, **kw)


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, chroma_url: str, postgres_url: str
) -> Iterator[Cluster]:
    """`advisor serve --workers 2` over a fresh collection and database, Slack on."""
    data = tmp_path_factory.mktemp("workers")
    collection = f"w{uuid.uuid4().hex[:12]}"
    ingest(
        Settings(data_dir=data, chroma_url=chroma_url, collection=collection),
        embedder_factory=lambda: embedder,
    )
    with fresh_database(postgres_url) as db, FakeSlack() as slack:
        env = {
            "ADVISOR_DATA_DIR": str(data),
            "ADVISOR_CHROMA_URL": chroma_url,
            "ADVISOR_COLLECTION": collection,
            "ADVISOR_DATABASE_URL": db,
            "ADVISOR_API_KEYS": ",".join(KEYS),
            "ADVISOR_RATE_STORE": "database",
            "ADVISOR_RATE_LIMIT": str(PER_MINUTE),
            "ADVISOR_RATE_BURST": str(BURST),
            "ADVISOR_SLACK_BOT_TOKEN": "xoxb-test",
            "ADVISOR_SLACK_SIGNING_SECRET": SECRET,
            "ADVISOR_SLACK_API_URL": slack.url,
            "ADVISOR_SLACK_UPDATE_INTERVAL": "30",
        }
        with ExitStack() as stack:
            servers = [stack.enter_context(advisor_server(env)) for _ in range(2)]
            yield Cluster(servers, slack, env)


def test_a_conversation_continues_on_the_other_worker(cluster: Cluster) -> None:
    first = cluster.request("POST", "/v1/ask", 0, json={"question": "Why do CRM projects fail?"})
    assert first.status_code == 200, first.text
    cid = first.json()["conversation_id"]
    follow_up = cluster.request(
        "POST", "/v1/ask", 1, json={"question": "Who should own it?", "conversation_id": cid}
    )
    assert follow_up.status_code == 200, follow_up.text
    assert first.headers["x-served-by"] != follow_up.headers["x-served-by"]
    assert follow_up.json()["turn"] == 2
    # The other worker read the history: "it" became the CRM project of the first turn.
    assert "CRM" in follow_up.json()["standalone_question"]
    third = cluster.request(
        "POST", "/v1/ask", 0, json={"question": "And who pays for it?", "conversation_id": cid}
    )
    assert third.json()["turn"] == 3
    history = cluster.request("GET", f"/v1/conversations/{cid}", 1)
    assert [t["turn"] for t in history.json()["turns"]] == [1, 2, 3]
    rated = cluster.request(
        "POST", "/v1/feedback", 1, json={"conversation_id": cid, "turn": 1, "rating": "up"}
    )
    assert rated.status_code == 201, rated.text


def test_the_rate_limit_is_one_limit_across_workers(cluster: Cluster) -> None:
    started = time.monotonic()
    replies = [cluster.request("GET", "/v1/sources", n % 2, key=KEYS[1]) for n in range(3 * BURST)]
    elapsed = time.monotonic() - started
    allowed = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 429]
    assert len(allowed) + len(refused) == len(replies)
    # Counted per worker, two workers would let through up to two bursts.
    assert BURST <= len(allowed) <= BURST + elapsed * PER_MINUTE / 60 + 1
    assert refused[0].headers["retry-after"].isdigit()


def test_a_slack_retry_on_the_other_worker_is_not_answered_twice(cluster: Cluster) -> None:
    event_id = f"Ev{uuid.uuid4().hex[:8]}"
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": "U1",
                "text": "<@UBOT> How should we phase a CRM rollout?",
                "ts": f"{int(time.time())}.000100",
                "channel": "C1",
                "team": TEAM,
            },
        }
    )
    for attempt in range(2):  # the first delivery to one worker, Slack's retry to the other
        retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
        r = cluster.request(
            "POST",
            "/slack/events",
            attempt,
            content=body,
            headers={
                **signed_headers(SECRET, body, "application/json"),
                **(retry if attempt else {}),
            },
        )
        assert r.status_code == 200, r.text
    cluster.slack.wait_for(lambda: cluster.slack.of("chat.update"))
    time.sleep(1.0)
    assert len(cluster.slack.of("chat.postMessage")) == 1


def test_serve_workers_starts_that_many_workers_behind_one_port(cluster: Cluster) -> None:
    # advisor_server returns once a worker says it is ready; the other may still be loading,
    # so this counts processes rather than asking a worker the kernel happens to pick.
    with advisor_server(cluster.env, args=["--workers", "2"]) as server:
        # uvicorn's supervisor spawns the workers through multiprocessing, one process each.
        deadline = time.monotonic() + 60
        while len(_spawned(server.process.pid)) < 2:
            assert time.monotonic() < deadline, "fewer than two worker processes"
            time.sleep(0.2)
        assert len(_spawned(server.process.pid)) == 2


def _spawned(pid: int) -> list[psutil.Process]:
    """The processes multiprocessing spawned under pid (its resource tracker excluded)."""
    return [
        p
        for p in psutil.Process(pid).children(recursive=True)
        if "spawn_main" in " ".join(p.cmdline())
    ]


def test_one_scrape_counts_every_workers_requests_and_turns(cluster: Cluster) -> None:
    # Each worker writes its counts to its own files in one folder; a scrape, whichever
    # worker the kernel hands it to, sums them all.
    with advisor_server(cluster.env, args=["--workers", "2"]) as server:
        headers = {"Authorization": f"Bearer {KEYS[1]}"}
        served_by: dict[str, int] = {}
        for i in range(40):  # a fresh connection each, until both workers have answered
            body = {"question": f"How should we phase a CRM rollout? ({i})"}
            r = httpx.post(f"{server.url}/v1/ask", json=body, headers=headers, timeout=60)
            assert r.status_code == 200, r.text
            worker = r.headers["x-served-by"]
            served_by[worker] = served_by.get(worker, 0) + 1
            if len(served_by) == 2 and i >= 5:
                break
        assert len(served_by) == 2, served_by
        asked = sum(served_by.values())
        seen = set()
        for _ in range(8):  # scrapes land on either worker; each must see every request
            r = httpx.get(f"{server.url}/metrics", timeout=30)
            seen.add(r.headers["x-served-by"])
            totals = _totals(r.text)
            assert totals["requests"] == asked and totals["turns"] == asked, (totals, asked)
            assert totals["passages"] > 0
        assert seen, "no scrape answered"


def _totals(text: str) -> dict[str, float]:
    """From a /metrics text: /v1/ask requests, turns and the index's passages."""
    from prometheus_client.parser import text_string_to_metric_families

    totals = {"requests": 0.0, "turns": 0.0, "passages": 0.0}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "advisor_http_requests_total" and s.labels.get("route") == "/v1/ask":
                totals["requests"] += s.value
            elif s.name == "advisor_turns_total":
                totals["turns"] += s.value
            elif s.name == "advisor_index_passages":
                totals["passages"] = s.value
    return totals
