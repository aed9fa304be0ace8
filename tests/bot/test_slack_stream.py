"""Native streaming in Slack, and the fallback to placeholder-and-update where it is refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from advisor.facade import Advisor
from bot.slack import conversation_id
from tests.bot.conftest import Serve
from tests.bot.fake_slack import TEAM
from tests.bot.test_slack import SlackRig, all_text, mention, slack_rig


@pytest.fixture
def rig(serve: Serve, advisor: Advisor) -> Iterator[SlackRig]:
    advisor.warm()  # the first answer's one-off loading is not what these tests time
    with slack_rig(serve, advisor, slack_update_interval=30.0) as r:
        yield r


def args_of(rig: SlackRig, method: str) -> list[dict[str, Any]]:
    return [c["args"] for c in rig.slack.of(method)]


def blocks_of(args: dict[str, Any]) -> Any:
    blocks = args["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def test_an_answer_is_streamed_then_closed_with_its_sources(rig: SlackRig) -> None:
    rig.slack.streaming = True
    thread = "1720000000.000100"
    rig.event(mention("Why do CRM projects fail?", thread), "EvS1")
    stop = rig.slack.wait_for(lambda: args_of(rig, "chat.stopStream"))[0]
    start = args_of(rig, "chat.startStream")[0]
    assert start["thread_ts"] == thread and start["recipient_team_id"] == TEAM
    assert start["recipient_user_id"] == "U1"
    pieces = [a["markdown_text"] for a in args_of(rig, "chat.appendStream")]
    assert 1 <= len(pieces) <= 2  # offline: the first sentence at once, then the rest
    turns = rig.advisor.conversation(conversation_id(TEAM, "C1", thread))
    assert "".join(pieces) == turns[0].answer.answer  # every word streamed, nothing else
    footer = all_text(blocks_of(stop))
    assert "*Sources*" in footer and "feedback_up" in footer
    assert stop["ts"] == "1800000000.000001"
    assert args_of(rig, "chat.postMessage") == [] and args_of(rig, "chat.update") == []


def test_a_refused_stream_falls_back_and_is_not_tried_again(rig: SlackRig) -> None:
    # The fake's default: no streaming in this workspace, as Slack answers an unknown method.
    rig.event(mention("Who should own the CRM project?", "1720000000.000200"), "EvS2")
    rig.slack.wait_for(lambda: args_of(rig, "chat.update"))
    assert len(args_of(rig, "chat.startStream")) == 1
    assert "Working on it" in args_of(rig, "chat.postMessage")[0]["text"]
    rig.event(mention("How should we phase a CRM rollout?", "1720000000.000300"), "EvS3")
    rig.slack.wait_for(lambda: len(args_of(rig, "chat.update")) == 2)
    assert len(args_of(rig, "chat.startStream")) == 1  # remembered for this team and channel type


def test_a_stream_that_breaks_is_replaced_by_the_whole_answer(rig: SlackRig) -> None:
    rig.slack.streaming = True
    rig.slack.script["chat.appendStream"] = [(200, {"ok": False, "error": "message_not_found"})]
    thread = "1720000000.000400"
    rig.event(mention("Why does data quality matter for CRM?", thread), "EvS4")
    posted = rig.slack.wait_for(lambda: args_of(rig, "chat.postMessage"))[0]
    assert posted["thread_ts"] == thread and "*Sources*" in all_text(blocks_of(posted))
    assert args_of(rig, "chat.delete")[0]["ts"] == "1800000000.000001"  # the partial stream
    assert len(rig.advisor.conversation(conversation_id(TEAM, "C1", thread))) == 1


def test_a_retry_during_streaming_gets_exactly_one_answer(rig: SlackRig) -> None:
    rig.slack.streaming = True
    event = mention("What is a CRMO?", "1720000000.000500")
    rig.event(event, "EvS5")
    rig.event(event, "EvS5", **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"})
    rig.slack.wait_for(lambda: args_of(rig, "chat.stopStream"))
    time.sleep(0.5)
    assert len(args_of(rig, "chat.startStream")) == 1 and len(args_of(rig, "chat.stopStream")) == 1


def test_a_refused_question_replaces_its_stream_with_the_reason(rig: SlackRig) -> None:
    rig.slack.streaming = True
    rig.event(mention("   ", "1720000000.000600"), "EvS6")
    posted = rig.slack.wait_for(lambda: args_of(rig, "chat.postMessage"))[0]
    assert "couldn't take that question" in posted["text"] and "empty" in posted["text"]
    assert args_of(rig, "chat.delete")[0]["ts"] == "1800000000.000001"
    assert args_of(rig, "chat.stopStream") == []
