"""Two `advisor serve` workers behind one port, sharing a Chroma server and PostgreSQL."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from advisor.config import Settings
from advisor.index import ingest
from evals.load import Server, advisor_server
from tests.bot.fake_slack import TEAM, FakeSlack, signed_headers
from tests.servers import fresh_database

SECRET = "workers-signing-secret"
KEYS = ("conversation-key", "burst-key")
BURST, PER_MINUTE = 10, 60


@dataclass
class Cluster:
    """The running workers, the fake Slack they post to."""

    server: Server
    slack: FakeSlack

    def request(self, method: str, path: str, key: str = KEYS[0], **kw: Any) -> httpx.Response:
        """One request on a new connection, so the kernel may hand it to either worker."""
        headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.server.url}{path}", headers=headers, timeout=60, **kw)


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
        with advisor_server(env, args=["--workers", "2"]) as server:
            rig = Cluster(server, slack)
            _both_ready(rig)
            yield rig


def _both_ready(rig: Cluster, within: float = 180.0) -> None:
    """Wait until two different workers have each said they are ready."""
    seen: set[str] = set()
    deadline = time.monotonic() + within
    while len(seen) < 2:
        assert time.monotonic() < deadline, f"only {len(seen)} worker(s) became ready"
        r = httpx.get(f"{rig.server.url}/readyz", timeout=30)
        if r.status_code == 200:
            seen.add(r.headers["x-served-by"])
        time.sleep(0.05)


def test_a_conversation_continues_whichever_worker_answers(cluster: Cluster) -> None:
    first = cluster.request("POST", "/v1/ask", json={"question": "Why do CRM projects fail?"})
    assert first.status_code == 200, first.text
    cid = first.json()["conversation_id"]
    served = [first.headers["x-served-by"]]
    switched_follow_up = None
    # Keep the conversation going until a turn lands on the other worker than the last.
    while switched_follow_up is None and len(served) < 12:
        r = cluster.request(
            "POST",
            "/v1/ask",
            json={"question": "Who should own it?", "conversation_id": cid},
        )
        assert r.status_code == 200, r.text
        served.append(r.headers["x-served-by"])
        if served[-1] != served[-2]:
            switched_follow_up = r.json()
    assert switched_follow_up is not None, f"every turn went to one worker: {served}"
    assert switched_follow_up["turn"] == len(served)
    # The other worker read the history: "it" became the CRM project of the first turn.
    assert "CRM" in switched_follow_up["standalone_question"]
    history = cluster.request("GET", f"/v1/conversations/{cid}")
    assert [t["turn"] for t in history.json()["turns"]] == list(range(1, len(served) + 1))
    rated = cluster.request(
        "POST", "/v1/feedback", json={"conversation_id": cid, "turn": 1, "rating": "up"}
    )
    assert rated.status_code == 201, rated.text


def test_the_rate_limit_is_one_limit_across_workers(cluster: Cluster) -> None:
    started = time.monotonic()
    replies = [cluster.request("GET", "/v1/sources", key=KEYS[1]) for _ in range(3 * BURST)]
    elapsed = time.monotonic() - started
    allowed = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 429]
    assert len(allowed) + len(refused) == len(replies)
    assert len({r.headers["x-served-by"] for r in replies}) == 2, "one worker took every request"
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
    workers: set[str] = set()
    for attempt in range(12):  # Slack retries until a delivery lands on the second worker
        retry = {"X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": "http_timeout"}
        r = cluster.request(
            "POST",
            "/slack/events",
            content=body,
            headers={
                **signed_headers(SECRET, body, "application/json"),
                **(retry if attempt else {}),
            },
        )
        assert r.status_code == 200, r.text
        workers.add(r.headers["x-served-by"])
        if len(workers) == 2:
            break
    assert len(workers) == 2, "every delivery went to one worker"
    cluster.slack.wait_for(lambda: cluster.slack.of("chat.update"))
    time.sleep(1.0)
    assert len(cluster.slack.of("chat.postMessage")) == 1
