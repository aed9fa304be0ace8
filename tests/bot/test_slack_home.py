"""The App Home tab, the plan-review modal and the review as a file, end to end over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from advisor.facade import Advisor
from bot.slack import conversation_id
from bot.slack_views import MODAL_MAX_CHARS, OPEN_REVIEW, PLAN_BLOCK, REVIEW_FILE, REVIEW_MODAL
from tests.advisor.review.test_review import FLAWED
from tests.bot.conftest import Serve
from tests.bot.fake_slack import TEAM
from tests.bot.test_slack import SlackRig, all_text, slack_rig

DM = "D1"  # the app's DM with U1, as the fake names it


@pytest.fixture
def rig(serve: Serve, advisor: Advisor) -> Iterator[SlackRig]:
    advisor.warm()
    with slack_rig(serve, advisor, slack_update_interval=30.0) as r:
        yield r


def args_of(rig: SlackRig, method: str) -> list[dict[str, Any]]:
    return [c["args"] for c in rig.slack.of(method)]


def decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def interact(rig: SlackRig, payload: dict[str, Any]) -> Any:
    base = {"team": {"id": TEAM}, "user": {"id": "U1"}, "api_app_id": "A1"}
    body = urlencode({"payload": json.dumps({**base, **payload})})
    return rig.send(body, "application/x-www-form-urlencoded")


def press(rig: SlackRig, action_id: str, value: str = "", **extra: Any) -> Any:
    action = {"action_id": action_id, "block_id": "b", "type": "button", "action_ts": "1.2"}
    payload = {
        "type": "block_actions",
        "trigger_id": f"trig-{time.monotonic_ns()}",
        "response_url": rig.slack.response_url("button"),
        "actions": [{**action, **({"value": value} if value else {})}],
        **extra,
    }
    return interact(rig, payload)


def submit(rig: SlackRig, plan: str | None, view_id: str = "V1") -> Any:
    values = {} if plan is None else {PLAN_BLOCK: {"plan_text": {"type": "x", "value": plan}}}
    view = {"id": view_id, "hash": "h1", "type": "modal", "callback_id": REVIEW_MODAL}
    view["state"] = {"values": values}
    return interact(rig, {"type": "view_submission", "trigger_id": "t", "view": view})


def home_opened(rig: SlackRig, event_id: str, tab: str = "home") -> Any:
    event = {"type": "app_home_opened", "user": "U1", "channel": DM, "tab": tab}
    return rig.event({**event, "event_ts": "1.1"}, event_id)


def test_the_home_tab_shows_the_button_examples_and_recent_conversations(
    rig: SlackRig,
) -> None:
    thread = "1730000000.000100"
    rig.advisor.ask(
        "Who should own the CRM project?", conversation_id(TEAM, DM, thread), start=True
    )
    rig.advisor.ask(
        "Why is our CRM plan too broad?", conversation_id(TEAM, "C9", "1.5"), start=True
    )
    assert home_opened(rig, "EvH1").status_code == 200
    published = rig.slack.wait_for(lambda: args_of(rig, "views.publish"))[0]
    view = decoded(published["view"])
    assert published["user_id"] == "U1" and view["type"] == "home"
    text = all_text(view["blocks"])
    assert "Example questions" in text and "Who should own the CRM project?" in text
    link = f"https://fake.slack.com/archives/{DM}/p{thread.replace('.', '')}"
    assert f"<{link}|Who should own the CRM project?> · 1 turn" in text
    assert "too broad" not in text  # a channel's conversation is not this user's DM
    buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == [OPEN_REVIEW]
    home_opened(rig, "EvH2", tab="messages")  # the Messages tab needs no view
    time.sleep(0.5)
    assert len(args_of(rig, "views.publish")) == 1


def test_the_review_button_opens_a_modal_with_a_stated_limit(rig: SlackRig) -> None:
    assert press(rig, OPEN_REVIEW).status_code == 200
    opened = rig.slack.wait_for(lambda: args_of(rig, "views.open"))[0]
    modal = decoded(opened["view"])
    assert modal["type"] == "modal" and modal["callback_id"] == REVIEW_MODAL
    field = modal["blocks"][0]
    assert field["element"]["multiline"] is True
    assert field["element"]["max_length"] == MODAL_MAX_CHARS
    assert f"{MODAL_MAX_CHARS:,} characters" in field["hint"]["text"]


def test_a_submitted_plan_is_reviewed_in_the_dm_and_discussed_in_its_thread(
    rig: SlackRig,
) -> None:
    reply = submit(rig, FLAWED)
    assert reply.status_code == 200 and not reply.content  # the modal closes
    update = rig.slack.wait_for(lambda: args_of(rig, "chat.update"))[0]
    placeholder = args_of(rig, "chat.postMessage")[0]
    assert placeholder["channel"] == "U1" and update["channel"] == DM
    text = all_text(decoded(update["blocks"]))
    order = [text.find(h) for h in ("Red flags", "Open questions", "Strengths")]
    assert order[0] >= 0 and [i for i in order if i >= 0] == sorted(i for i in order if i >= 0)
    cid = conversation_id(TEAM, DM, update["ts"])
    assert rig.advisor.conversation(cid)[0].review is not None
    # A reply in the review's thread is a follow-up on that review.
    follow = {
        "type": "message",
        "channel_type": "im",
        "user": "U1",
        "channel": DM,
        "text": "What should we fix first?",
        "ts": "1800000099.000001",
        "thread_ts": update["ts"],
    }
    rig.event(follow, "EvH3")
    rig.slack.wait_for(lambda: len(args_of(rig, "chat.update")) == 2)
    assert len(rig.advisor.conversation(cid)) == 2
    submit(rig, FLAWED)  # the same view again: not reviewed twice
    time.sleep(0.5)
    assert len(args_of(rig, "chat.postMessage")) == 2  # the review's, then the follow-up's


@pytest.mark.parametrize(
    ("plan", "says"),
    [(None, "empty"), ("   \n ", "empty"), ("word " * 5000, "limit is 20000")],
    ids=["missing", "blank", "over-long"],
)
def test_a_bad_plan_is_refused_under_its_field(rig: SlackRig, plan: str | None, says: str) -> None:
    reply = submit(rig, plan, view_id=f"V-{says}")
    assert reply.status_code == 200
    body = reply.json()
    assert body["response_action"] == "errors" and says in body["errors"][PLAN_BLOCK]
    time.sleep(0.3)
    assert not args_of(rig, "chat.postMessage")


def test_a_long_review_offers_and_uploads_itself_as_a_file(rig: SlackRig) -> None:
    plan = (
        FLAWED
        + " "
        + " ".join(
            f"Region {n} moves to the new CRM in one weekend with no pilot." for n in range(40)
        )
    )
    submit(rig, plan[:MODAL_MAX_CHARS])
    update = rig.slack.wait_for(lambda: args_of(rig, "chat.update"))[0]
    blocks = decoded(update["blocks"])
    button = next(
        e
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == REVIEW_FILE
    )
    message = {"ts": update["ts"], "text": "review"}
    press(rig, REVIEW_FILE, button["value"], channel={"id": DM}, message=message)
    done = rig.slack.wait_for(lambda: args_of(rig, "files.completeUploadExternal"))[0]
    asked = args_of(rig, "files.getUploadURLExternal")[0]
    uploaded = args_of(rig, "upload")[0]["content"]
    assert done["channel_id"] == DM and done["thread_ts"] == update["ts"]
    assert int(asked["length"]) == len(uploaded.encode())
    assert "Red flags" in uploaded and "Sources:" in uploaded
