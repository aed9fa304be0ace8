"""The Slack manifest declares exactly what the registered listeners handle, and no more."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from advisor.facade import Advisor
from bot.app import STATIC
from bot.slack import Listeners
from tests.bot.conftest import Serve
from tests.bot.test_slack import SlackRig, slack_rig

# What bolt's Assistant middleware listens for once registered with app.assistant(...).
ASSISTANT_EVENTS = {"assistant_thread_started", "assistant_thread_context_changed", "message"}


class RecordingApp:
    """Stands in for bolt's App at registration: records each listener's kind and key."""

    def __init__(self) -> None:
        self.seen: dict[str, list[Any]] = defaultdict(list)

    def __getattr__(self, kind: str) -> Callable[..., Callable[[Any], Any]]:
        def register(key: Any = None, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
            self.seen[kind].append(key)
            return lambda listener: listener

        return register


def manifest() -> dict[str, Any]:
    text = (STATIC.parent / "slack_manifest.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)  # type: ignore[no-any-return]


def registered() -> dict[str, list[Any]]:
    app = RecordingApp()
    Listeners(None, None).register(app)  # type: ignore[arg-type]
    return app.seen


def test_the_manifest_subscribes_to_exactly_the_events_listened_for() -> None:
    seen = registered()
    declared = set(manifest()["settings"]["event_subscriptions"]["bot_events"])
    listened = set(seen["event"]) | (ASSISTANT_EVENTS if seen["assistant"] else set())
    assert {e.split(".", 1)[0] for e in declared} == listened
    assert {"message.im", "message.channels", "message.groups"} <= declared


def test_the_manifest_declares_the_command_shortcut_home_and_interactivity() -> None:
    seen, m = registered(), manifest()
    assert [c["command"] for c in m["features"]["slash_commands"]] == seen["command"]
    assert [s["callback_id"] for s in m["features"]["shortcuts"]] == seen["shortcut"]
    assert m["features"]["app_home"]["home_tab_enabled"] is ("app_home_opened" in seen["event"])
    assert m["settings"]["interactivity"]["is_enabled"] is bool(seen["action"] or seen["view"])
    assert bool(m["features"].get("assistant_view")) is bool(seen["assistant"])
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    assert {"app_mentions:read", "chat:write", "commands", "im:history"} <= scopes
    assert {"assistant:write", "files:write"} <= scopes  # the pane; the review as a file


@pytest.fixture
def rig(serve: Serve, advisor: Advisor) -> Iterator[SlackRig]:
    with slack_rig(serve, advisor, slack_update_interval=30.0) as r:
        yield r


def test_every_declared_event_reaches_a_listener(rig: SlackRig) -> None:
    """Bolt answers 404 to an event no listener takes; each declared one must get 200."""
    for n, name in enumerate(manifest()["settings"]["event_subscriptions"]["bot_events"]):
        kind, _, channel_type = name.partition(".")
        event: dict[str, Any] = {"type": kind, "user": "U1", "event_ts": f"1.{n}"}
        if kind == "message":  # a reply among people, which the advisor leaves alone
            event |= {"channel_type": channel_type[:-1] if channel_type != "im" else "im"}
            event |= {"channel": "C1", "text": "ok", "ts": f"1.{n}", "subtype": "channel_join"}
        elif kind.startswith("assistant_thread"):
            thread = {"user_id": "U1", "channel_id": "D1", "thread_ts": "1.1", "context": {}}
            event |= {"assistant_thread": thread}
        elif kind == "app_home_opened":
            event |= {"channel": "D1", "tab": "messages"}
        else:
            event |= {"channel": "C1", "text": "hello", "ts": f"1.{n}"}
        assert rig.event(event, f"EvM{n}").status_code == 200, name
    unheard = {"type": "reaction_added", "user": "U1", "reaction": "eyes", "event_ts": "2.1"}
    assert rig.event(unheard, "EvM-unheard").status_code == 404  # so a 200 above means heard
