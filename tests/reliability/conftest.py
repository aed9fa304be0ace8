"""One server over a seeded store for the reliability tests, and a size-limited disk."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from advisor.config import Settings
from advisor.facade import Advisor
from tests.bot.conftest import doors, live_server
from tests.bot.fake_slack import FakeSlack, signed_headers

SLACK_SECRET = "reliability-signing-secret"


@dataclass
class Seeded:
    """A running server, its fake Slack, and what its store held before the test."""

    url: str
    slack: FakeSlack
    conversation: str
    review_conversation: str

    def stored(self) -> dict[str, Any]:
        """Everything the seeded conversations hold, as the API returns it."""
        with httpx.Client(base_url=self.url, timeout=60) as c:
            return {
                cid: c.get(f"/v1/conversations/{cid}").json()
                for cid in (self.conversation, self.review_conversation)
            }

    def slack_post(self, body: str, content_type: str, **headers: str) -> httpx.Response:
        """POST to /slack/events, signed unless headers say otherwise."""
        signed = {**signed_headers(SLACK_SECRET, body, content_type), **headers}
        return httpx.post(f"{self.url}/slack/events", content=body, headers=signed, timeout=60)


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, index_dir: Path, embedder: Any
) -> Iterator[Seeded]:
    """A server with Slack on, rate limit off, and one conversation, rating and review stored."""
    db = tmp_path_factory.mktemp("seeded") / "conv.db"
    settings = Settings(data_dir=index_dir, database_url=f"sqlite:///{db}")
    with FakeSlack() as slack:
        front = doors(
            rate_limit=0,
            slack_bot_token=SecretStr("xoxb-test"),
            slack_signing_secret=SecretStr(SLACK_SECRET),
            slack_api_url=slack.url,
        )
        with live_server(settings, Advisor(settings, embedder=embedder), front) as url:
            with httpx.Client(base_url=url, timeout=60) as c:
                first = c.post("/v1/ask", json={"question": "Why do CRM projects fail?"}).json()
                cid = first["conversation_id"]
                c.post("/v1/ask", json={"question": "Who should own it?", "conversation_id": cid})
                c.post("/v1/feedback", json={"conversation_id": cid, "turn": 1, "rating": "up"})
                plan = (
                    "Our CRM plan: IT will choose Salesforce first and roll it out to every "
                    "region at once next quarter, to transform all customer relationships."
                )
                review = c.post("/v1/review", json={"plan": plan}).json()
            yield Seeded(url, slack, cid, review["conversation_id"])


@pytest.fixture
def intact(seeded: Seeded) -> Iterator[Seeded]:
    """The seeded server; after the test, it must be up and its store unchanged."""
    before = seeded.stored()
    assert len(before[seeded.conversation]["turns"]) == 2
    yield seeded
    assert httpx.get(f"{seeded.url}/healthz", timeout=60).status_code == 200
    assert json.dumps(seeded.stored(), sort_keys=True) == json.dumps(before, sort_keys=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 4 MB tmpfs, which a test may fill or remount read-only (needs root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        why = f"cannot mount a tmpfs here: {done.stderr.strip()}"
        if os.environ.get("ADVISOR_REQUIRE_MOUNT_TESTS"):
            pytest.fail(why)
        pytest.skip(why)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
