"""The Slack assistant pane (bolt-python's ``Assistant``): greeting, prompts, status, title.

Slack's AI-app surface opens a side pane whose threads are DM threads with the app. A
thread's start gets a greeting and suggested prompts; each message gets a "thinking"
status and the thread a title from its first question, and is then answered by the same
path as a DM (``Listeners.answer_event``: placeholder, edits, the answer's blocks), in one
conversation per pane thread, so follow-ups work as in channel threads. The "Review my CRM
plan" prompt asks for the plan, and the thread's next message is reviewed; its reply also
offers the review form (``bot.slack_home``).

Modelled on bolt-python's assistant template (``slack_bolt.middleware.assistant``).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Protocol

from slack_bolt import Assistant
from slack_bolt.context.assistant.thread_context import AssistantThreadContext
from slack_bolt.context.assistant.thread_context_store.store import AssistantThreadContextStore
from slack_sdk import WebClient

from bot import slack_blocks as ui
from bot import slack_views as views

log = logging.getLogger("advisor.slack")
_REMEMBERED = 2_000  # pane threads whose viewed channel and awaited plan are kept in memory


class _Recent:
    """A thread-safe map that keeps only its ``limit`` newest keys."""

    def __init__(self, limit: int = _REMEMBERED) -> None:
        self._items: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._limit = limit

    def put(self, key: tuple[str, str], value: Any) -> Any:
        """Store ``value``; return what ``key`` held before (None if nothing)."""
        with self._lock:
            before = self._items.pop(key, None)
            self._items[key] = value
            while len(self._items) > self._limit:
                self._items.popitem(last=False)
            return before

    def get(self, key: tuple[str, str]) -> Any:
        with self._lock:
            return self._items.get(key)

    def pop(self, key: tuple[str, str]) -> Any:
        with self._lock:
            return self._items.pop(key, None)


class ThreadContexts(AssistantThreadContextStore):
    """Which channel the manager is viewing beside each pane thread, newest kept.

    Kept in this process: after a restart, or on another worker, a thread simply has no
    context until Slack sends the next ``assistant_thread_context_changed``.
    """

    def __init__(self, limit: int = _REMEMBERED) -> None:
        self._items = _Recent(limit)

    def save(self, *, channel_id: str, thread_ts: str, context: dict[str, str]) -> None:
        """Remember the context (``channel_id``, ``team_id``…) of one pane thread."""
        self._items.put((channel_id, thread_ts), dict(context))

    def find(self, *, channel_id: str, thread_ts: str) -> AssistantThreadContext | None:
        """The thread's last context, or None."""
        found = self._items.get((channel_id, thread_ts))
        return AssistantThreadContext(found) if found else None


class Answerer(Protocol):
    """What the pane needs of the door's listeners (``bot.slack.Listeners``)."""

    def answer_event(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        client: WebClient,
        thread_ts: str | None,
        review: bool = False,
        bot_user: str = "",
    ) -> None: ...


class Pane:
    """The assistant pane's listeners, on top of the door's shared ``Listeners``."""

    def __init__(self, listeners: Answerer, contexts: ThreadContexts | None = None) -> None:
        self.listeners = listeners
        self.contexts = contexts or ThreadContexts()
        self._awaiting = _Recent()  # threads whose next message is a plan to review
        self._titled = _Recent()  # threads already named after their first question

    def assistant(self) -> Assistant:
        """A bolt ``Assistant`` with the pane's listeners; register with ``app.assistant``."""
        assistant = Assistant(thread_context_store=self.contexts)
        assistant.thread_started(self.on_thread_started)
        assistant.user_message(self.on_user_message)
        return assistant

    def on_thread_started(self, say: Any, set_suggested_prompts: Any) -> None:
        """A new pane thread: one greeting line, then the suggested prompts."""
        say(ui.PANE_GREETING)
        set_suggested_prompts(prompts=ui.PANE_PROMPTS, title=ui.PANE_PROMPTS_TITLE)

    def on_user_message(
        self,
        body: dict[str, Any],
        event: dict[str, Any],
        client: WebClient,
        say: Any,
        set_status: Any,
        set_title: Any,
        context: Any,
    ) -> None:
        """A message in a pane thread: status, title (the first time), then the answer or review."""
        channel, thread_ts = event["channel"], event["thread_ts"]
        text = ui.plain_text(event.get("text", "")).strip()
        key = (channel, thread_ts)
        if ui.asks_for_review(text) and not ui.review_text(text):
            self._await_plan(key)
            # The form suits a long plan better than the message box; both are offered.
            button = {"type": "actions", "elements": [views.review_button(primary=False)]}
            say(text=ui.PANE_ASK_FOR_PLAN, blocks=[ui.section(ui.PANE_ASK_FOR_PLAN), button])
            return
        try:
            set_status(ui.PANE_STATUS)
            if self._first(key):  # the thread is named after its first question only
                set_title(ui.pane_title(text))
        except Exception:  # the pane's chrome is a nicety: the answer must still come
            log.warning("could not set the assistant thread's status or title", exc_info=True)
        review = self._take_awaited(key)
        me = context.bot_user_id or ""
        self.listeners.answer_event(body, event, client, thread_ts, review=review, bot_user=me)

    def _first(self, key: tuple[str, str]) -> bool:
        return self._titled.put(key, True) is None

    def _await_plan(self, key: tuple[str, str]) -> None:
        self._awaiting.put(key, True)

    def _take_awaited(self, key: tuple[str, str]) -> bool:
        return bool(self._awaiting.pop(key))
