"""Native Slack streaming of an answer: ``chat.startStream``, ``appendStream``, ``stopStream``.

The answer's text is appended as it is written (a sentence or more at a time with an LLM,
in one or two pieces offline), and the stream stops with the sources and the feedback
buttons as blocks. Where a workspace or a channel type refuses streaming (the method is
missing, not allowed, or not supported there), ``StreamRefused`` is raised before anything
is shown and the caller falls back to its placeholder-and-update; the refusal is
remembered per workspace and channel type for ``REFUSAL_TTL`` seconds, so the bot does not
try again for every message. The method shapes follow ``slack_sdk``'s ``WebClient``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from advisor import Answer, StreamEvent
from bot import slack_blocks as ui

log = logging.getLogger("advisor.slack")
REFUSAL_TTL = 600.0  # seconds a refused (workspace, channel type) is not asked again
# The first finished sentence is appended at once; later text waits for a finished sentence
# and this many seconds since the last append: sentence by sentence as an LLM writes, and
# offline (where the whole answer comes at once) in two appends, not one call per line.
APPEND_EVERY = 0.8


class StreamRefused(Exception):
    """Streaming is not available here; nothing was posted."""


class StreamFailed(Exception):
    """The stream began but cannot finish as a stream: ``ts`` is the partly streamed message.

    ``error`` is the advisor's error when the answer could not be made at all; otherwise
    ``answer`` is the finished Answer when it was reached, or ``events`` holds the rest.
    """

    def __init__(
        self,
        ts: str,
        answer: Answer | None = None,
        events: Iterator[StreamEvent] | None = None,
        error: Exception | None = None,
    ) -> None:
        super().__init__(ts)
        self.ts, self.answer, self.events, self.error = ts, answer, events, error


class Refusals:
    """Where streaming was refused: (team, channel type) → when to try again."""

    def __init__(self, ttl: float = REFUSAL_TTL) -> None:
        self._until: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self.ttl = ttl

    def refused(self, key: tuple[str, str]) -> bool:
        """True while a refusal for ``key`` is remembered."""
        with self._lock:
            return self._until.get(key, 0.0) > time.monotonic()

    def remember(self, key: tuple[str, str], why: str) -> None:
        """Remember a refusal for ``ttl`` seconds."""
        log.info("Slack streaming refused for %s (%s); placeholders for now", key, why)
        with self._lock:
            self._until[key] = time.monotonic() + self.ttl


def stream_answer(
    client: WebClient,
    make_events: Callable[[], Iterable[StreamEvent]],
    *,
    channel: str,
    thread_ts: str,
    team: str,
    user: str,
) -> Answer:
    """Start a stream in ``thread_ts``, then answer into it; return the stored Answer.

    The stream starts before the answer is prepared, so the manager sees the reply begin
    at once. Raises StreamRefused when ``chat.startStream`` is refused (nothing was shown),
    and StreamFailed when a later stream call fails, the advisor raises, or text already
    shown is withdrawn (the guard rejected an LLM's answer): the caller then replaces the
    partial message.
    """
    try:
        started = client.chat_startStream(
            channel=channel, thread_ts=thread_ts, recipient_team_id=team, recipient_user_id=user
        )
    except SlackApiError as exc:
        raise StreamRefused(str(exc.response.get("error", exc))) from exc
    ts = str(started["ts"])
    try:
        events = iter(make_events())
    except Exception as exc:  # a bad question or a failed search: said in a new message
        raise StreamFailed(ts, error=exc) from exc
    buffer, shown, withdrawn, answer, last = "", False, False, None, 0.0
    try:
        for event in events:
            if event.kind == "reset":
                withdrawn, buffer = withdrawn or shown, ""
            elif event.kind == "delta":
                buffer += event.text
                done = buffer.rstrip().endswith((".", "]", "?", "!"))
                due = not shown or time.monotonic() - last >= APPEND_EVERY
                if done and due and not withdrawn:
                    client.chat_appendStream(channel=channel, ts=ts, markdown_text=buffer)
                    buffer, shown, last = "", True, time.monotonic()
            elif event.kind == "answer":
                answer = event.answer
        assert answer is not None  # the stream always ends with its answer
        if withdrawn:
            raise StreamFailed(ts, answer)
        if buffer:
            client.chat_appendStream(channel=channel, ts=ts, markdown_text=buffer)
        client.chat_stopStream(channel=channel, ts=ts, blocks=ui.answer_footer_blocks(answer))
    except SlackApiError as exc:
        raise StreamFailed(ts, answer, events) from exc
    return answer


def channel_type(event: dict[str, Any]) -> str:
    """The event's channel type, for remembering refusals ("im", "channel", "group"…)."""
    kind = event.get("channel_type") or ("im" if event["channel"].startswith("D") else "channel")
    return str(kind)
