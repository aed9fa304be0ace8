"""Socket Mode: the same listeners, reached by slack_sdk's own Socket Mode client over a
real WebSocket on loopback, answering through the fake Web API."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from advisor.config import Settings
from advisor.facade import Advisor
from bot.slack import build_slack_app, socket_mode_handler
from bot.state import SharedState
from tests.bot.conftest import doors
from tests.bot.fake_slack import TEAM, FakeSlack
from tests.bot.test_slack import all_text, mention


class FakeSocketMode:
    """Slack's side of a Socket Mode link: says hello, sends envelopes, collects acks."""

    def __init__(self) -> None:
        self.outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server = serve(self._session, "127.0.0.1", 0)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link"

    def _session(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {}}))
        sender = threading.Thread(target=self._send_all, args=(ws,), daemon=True)
        sender.start()
        try:
            for message in ws:
                self.acks.put(json.loads(message))
        except ConnectionClosed:
            pass

    def _send_all(self, ws: ServerConnection) -> None:
        while True:
            envelope = self.outbox.get()
            try:
                ws.send(json.dumps(envelope))
            except ConnectionClosed:
                return

    def __enter__(self) -> FakeSocketMode:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()


@pytest.fixture
def linked(settings: Settings, advisor: Advisor) -> Iterator[tuple[FakeSlack, FakeSocketMode]]:
    advisor.warm()
    with FakeSlack() as slack, FakeSocketMode() as link:
        slack.socket_url = link.url
        door = doors(
            slack_bot_token=SecretStr("xoxb-test"),
            slack_signing_secret=SecretStr("s" * 32),
            slack_app_token=SecretStr("xapp-test"),
            slack_api_url=slack.url,
        )
        app = build_slack_app(door, advisor, SharedState(settings.resolved_database_url))
        handler = socket_mode_handler(door, app)
        handler.connect()
        try:
            yield slack, link
        finally:
            handler.close()


def test_a_mention_over_socket_mode_is_acked_and_answered(
    linked: tuple[FakeSlack, FakeSocketMode],
) -> None:
    slack, link = linked
    event = mention("Who should own the CRM project?", "1740000000.000100")
    callback = {"team_id": TEAM, "api_app_id": "A1", "type": "event_callback", "event": event}
    envelope = {
        "envelope_id": "env-1",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": {**callback, "event_id": "EvSock1", "event_time": 1740000000},
    }
    link.outbox.put(envelope)
    assert link.acks.get(timeout=30)["envelope_id"] == "env-1"
    # The finished answer is the edit with blocks; on a slow machine a text-only streaming
    # edit (every `slack_update_interval`) may come first.
    final = slack.wait_for(lambda: [c for c in slack.of("chat.update") if "blocks" in c["args"]])
    assert "Sources" in all_text(final[0]["args"]["blocks"])
    assert [c["method"] for c in slack.calls].count("apps.connections.open") == 1
    link.outbox.put({**envelope, "envelope_id": "env-2", "retry_attempt": 1})  # a redelivery
    assert link.acks.get(timeout=30)["envelope_id"] == "env-2"
    time.sleep(1.0)  # time for a second answer to start, were the redelivery not deduped
    assert len(slack.of("chat.postMessage")) == 1  # acked, and still answered only once
