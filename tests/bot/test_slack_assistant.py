"""The assistant pane end to end: signed pane events through the real Bolt app over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from advisor.facade import Advisor
from bot.slack import conversation_id
from bot.slack_assistant import ThreadContexts
from bot.slack_blocks import PANE_ASK_FOR_PLAN, PANE_GREETING, pane_title
from tests.bot.conftest import Serve
from tests.bot.fake_slack import TEAM
from tests.bot.test_slack import SlackRig, all_text, slack_rig

DM, THREAD = "D77", "1710000000.000100"


@pytest.fixture
def rig(serve: Serve, advisor: Advisor) -> Iterator[SlackRig]:
    advisor.warm()  # the first answer's one-off loading is not what these tests time
    with slack_rig(serve, advisor, slack_update_interval=30.0) as r:
        yield r


def thread_event(kind: str, channel_id: str = "C5") -> dict[str, Any]:
    return {
        "type": kind,
        "assistant_thread": {
            "user_id": "U1",
            "context": {"channel_id": channel_id, "team_id": TEAM, "enterprise_id": ""},
            "channel_id": DM,
            "thread_ts": THREAD,
        },
        "event_ts": "1710000000.000200",
    }


def pane_message(text: str, ts: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "channel": DM,
        "text": text,
        "ts": ts,
        "thread_ts": THREAD,
        "event_ts": ts,
        **extra,
    }


def args_of(rig: SlackRig, method: str) -> list[dict[str, Any]]:
    return [c["args"] for c in rig.slack.of(method)]


def blocks_of(call: dict[str, Any]) -> Any:
    blocks = call["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def test_a_new_pane_thread_gets_a_greeting_and_suggested_prompts(rig: SlackRig) -> None:
    assert rig.event(thread_event("assistant_thread_started"), "EvP1").status_code == 200
    prompts = rig.slack.wait_for(lambda: args_of(rig, "assistant.threads.setSuggestedPrompts"))
    sent = prompts[0]
    listed = json.loads(sent["prompts"]) if isinstance(sent["prompts"], str) else sent["prompts"]
    assert sent["channel_id"] == DM and sent["thread_ts"] == THREAD
    assert 3 <= len(listed) <= 4 and "Review my CRM plan" in [p["title"] for p in listed]
    greeting = args_of(rig, "chat.postMessage")[0]
    assert greeting["text"] == PANE_GREETING and greeting["thread_ts"] == THREAD


def test_a_pane_question_gets_status_title_and_an_answer_in_its_thread(rig: SlackRig) -> None:
    rig.event(pane_message("Why do CRM projects fail?", "1710000000.000300"), "EvP2")
    update = rig.slack.wait_for(lambda: args_of(rig, "chat.update"))[0]
    status = args_of(rig, "assistant.threads.setStatus")
    title = args_of(rig, "assistant.threads.setTitle")
    assert status and status[0]["thread_ts"] == THREAD and status[0]["status"]
    assert title and title[0]["title"] == "Why do CRM projects fail?"
    # The status comes before the placeholder: the manager sees work start at once.
    calls = [c["method"] for c in rig.slack.calls]
    assert calls.index("assistant.threads.setStatus") < calls.index("chat.postMessage")
    assert args_of(rig, "chat.postMessage")[0]["thread_ts"] == THREAD
    assert "*Sources*" in all_text(blocks_of(update))

    # A follow-up in the same pane thread continues the same conversation.
    rig.event(pane_message("Who usually gets the blame?", "1710000000.000400"), "EvP3")
    rig.slack.wait_for(lambda: len(args_of(rig, "chat.update")) == 2)
    turns = rig.advisor.conversation(conversation_id(TEAM, DM, THREAD))
    assert [t.turn for t in turns] == [1, 2]
    assert turns[1].standalone_question != "Who usually gets the blame?"
    assert len(args_of(rig, "assistant.threads.setTitle")) == 1  # named after the first only


def test_the_review_prompt_asks_for_the_plan_and_reviews_the_next_message(
    rig: SlackRig,
) -> None:
    rig.advisor.review_model()  # trained or loaded now, not while the fake Slack waits
    rig.event(pane_message("Review my CRM plan", "1710000000.000500"), "EvP4")
    asked = rig.slack.wait_for(lambda: args_of(rig, "chat.postMessage"))[0]
    assert asked["text"] == PANE_ASK_FOR_PLAN and asked["thread_ts"] == THREAD
    plan = (
        "The IT department will lead the CRM project and pick the vendor this quarter. "
        "All 300 sales staff switch over on 1 March, with no pilot."
    )
    rig.event(pane_message(plan, "1710000000.000600"), "EvP5")
    update = rig.slack.wait_for(lambda: args_of(rig, "chat.update"))[0]
    text = all_text(blocks_of(update))
    assert "Red flags" in text and "IT-only ownership" in text, text
    # The plan was reviewed once; the message after it is a question again.
    turns = rig.advisor.conversation(conversation_id(TEAM, DM, THREAD))
    assert [t.review is not None for t in turns] == [True]


def test_a_retried_pane_message_is_answered_once(rig: SlackRig) -> None:
    event = pane_message("How should we phase a CRM rollout?", "1710000000.000700")
    rig.event(event, "EvP6")
    rig.event(event, "EvP6", **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"})
    rig.slack.wait_for(lambda: args_of(rig, "chat.update"))
    time.sleep(0.5)
    assert len(args_of(rig, "chat.postMessage")) == 1


def test_an_edited_pane_message_is_ignored(rig: SlackRig) -> None:
    edited = pane_message("", "1710000000.000800", subtype="message_changed")
    edited["message"] = {"text": "Why do CRM projects fail?", "thread_ts": THREAD}
    assert rig.event(edited, "EvP7").status_code == 200
    time.sleep(1.0)
    assert args_of(rig, "chat.postMessage") == []


def test_the_viewed_channel_is_remembered_per_thread(rig: SlackRig) -> None:
    rig.event(thread_event("assistant_thread_context_changed", channel_id="C42"), "EvP8")
    time.sleep(0.5)
    assert rig.slack.of("chat.update") == []  # kept here, not in Slack's message metadata
    contexts = ThreadContexts(limit=2)
    for n in range(3):
        contexts.save(channel_id=DM, thread_ts=str(n), context={"channel_id": f"C{n}"})
    assert contexts.find(channel_id=DM, thread_ts="0") is None
    found = contexts.find(channel_id=DM, thread_ts="2")
    assert found is not None and found.channel_id == "C2"


def test_a_long_question_makes_a_short_title() -> None:
    title = pane_title("How should we phase the rollout " * 5)
    assert len(title) <= 61 and title.endswith("…")
    assert pane_title("  Why\nnow? ") == "Why now?"
