"""Plan review in Slack: /crm review, the message shortcut, mentions, sharing and follow-ups."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from bot.slack import conversation_id
from bot.slack_blocks import MAX_BLOCKS, MAX_TEXT
from tests.advisor.review.test_review import FLAWED
from tests.bot.fake_slack import TEAM
from tests.bot.test_slack import SlackRig, all_text, mention, rig  # noqa: F401 (fixture)


def blocks_of(args: dict) -> list[dict]:  # type: ignore[type-arg]
    blocks = args["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def assert_within_slack_limits(blocks: list[dict]) -> None:  # type: ignore[type-arg]
    assert len(blocks) <= MAX_BLOCKS
    for b in blocks:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= MAX_TEXT


def shortcut(rig: SlackRig, text: str, ts: str, trigger: str, thread_ts: str | None = None):  # type: ignore[no-untyped-def]  # noqa: F811
    message = {"type": "message", "user": "U2", "ts": ts, "text": text}
    if thread_ts:
        message["thread_ts"] = thread_ts
    payload = {
        "type": "message_action",
        "callback_id": "review_plan",
        "trigger_id": trigger,
        "team": {"id": TEAM},
        "user": {"id": "U1"},
        "channel": {"id": "C1", "name": "plans"},
        "message": message,
        "message_ts": ts,
        "response_url": rig.slack.response_url("shortcut"),
    }
    return rig.send(
        urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded"
    )


def test_the_shortcut_reviews_the_message_in_its_thread(rig: SlackRig) -> None:  # noqa: F811
    # Slack escapes &, < and > in message text; the review reads the plain text.
    text = FLAWED.replace("Sales, claims", "Sales &amp; claims")
    r = shortcut(rig, text, "1700000100.000100", "t1")
    assert r.status_code == 200
    update = rig.slack.wait_for(lambda: rig.slack.of("chat.update"))[0]["args"]
    placeholder = rig.slack.of("chat.postMessage")[0]["args"]
    assert placeholder["thread_ts"] == "1700000100.000100" and placeholder["channel"] == "C1"
    blocks = blocks_of(update)
    assert_within_slack_limits(blocks)
    shown = all_text(blocks)
    assert "readiness" in shown and "IT-only ownership" in shown and ":red_circle: high" in shown
    assert "*Sources*" in shown and "Sales & claims" not in shown  # escaped again for mrkdwn
    cid = conversation_id(TEAM, "C1", "1700000100.000100")
    (turn,) = rig.advisor.conversation(cid)
    assert turn.review is not None and "Sales & claims" in turn.question

    # A question in that thread is answered in the light of the review.
    reply = {
        "type": "message",
        "channel_type": "channel",
        "user": "U1",
        "channel": "C1",
        "text": "why is that too broad?",
        "ts": "1700000100.000300",
        "thread_ts": "1700000100.000100",
    }
    rig.event(reply, "EvR1")
    second = rig.slack.wait_for(lambda: rig.slack.of("chat.update")[1:])[0]["args"]
    assert "On your plan's “Goals too broad” finding" in all_text(blocks_of(second))


def test_the_shortcut_answers_a_retry_once_and_explains_a_non_plan(rig: SlackRig) -> None:  # noqa: F811
    shortcut(rig, "lunch at 12?", "1700000101.000100", "t2")
    shortcut(rig, "lunch at 12?", "1700000101.000100", "t2")  # Slack's retry: same trigger
    update = rig.slack.wait_for(lambda: rig.slack.of("chat.update"))[0]["args"]
    assert "couldn't review that as a plan" in update["text"]
    assert len(rig.slack.of("chat.postMessage")) == 1


def test_crm_review_is_private_then_shared_into_a_thread(rig: SlackRig) -> None:  # noqa: F811
    rig.command(f"review {FLAWED}", rig.slack.response_url("cmd"))
    sent = rig.slack.wait_for(lambda: rig.slack.of("respond"))[0]["args"]
    assert sent["response_type"] == "ephemeral"
    assert_within_slack_limits(sent["blocks"])
    assert "Plan review: readiness" in all_text(sent["blocks"])
    share = next(
        e
        for b in sent["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "share_answer"
    )
    rig.click("share_answer", share["value"], rig.slack.response_url("share"))
    posted = rig.slack.wait_for(lambda: rig.slack.of("chat.postMessage"))[0]
    assert "Plan review: readiness" in all_text(posted["args"]["blocks"])
    # The shared message's thread carries the review, so replies there can discuss it.
    thread = conversation_id(TEAM, "C1", "1800000000.000001")
    rig.slack.wait_for(lambda: rig.advisor.store.exists(thread))
    (turn,) = rig.advisor.conversation(thread)
    assert turn.review is not None


def test_crm_review_without_a_plan_says_what_is_needed(rig: SlackRig) -> None:  # noqa: F811
    rig.command("review", rig.slack.response_url("cmd"))
    sent = rig.slack.wait_for(lambda: rig.slack.of("respond"))[0]["args"]
    assert "couldn't review that as a plan" in sent["text"] and "empty" in sent["text"]


def test_a_mention_starting_with_review_reviews_the_rest(rig: SlackRig) -> None:  # noqa: F811
    rig.event(mention(f"review this plan: {FLAWED}", "1700000102.000100"), "EvR2")
    update = rig.slack.wait_for(lambda: rig.slack.of("chat.update"))[0]["args"]
    assert "Plan review: readiness" in all_text(blocks_of(update))
