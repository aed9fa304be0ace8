"""The OpenAI-compatible door, driven by the official ``openai`` client over real HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI

from tests.advisor.review.test_review import FLAWED
from tests.bot.conftest import Serve

KEY = "sk-test-openai-door"


@pytest.fixture
def keyed_url(serve: Serve) -> Iterator[str]:
    with serve(api_keys=[KEY]) as url:
        yield url


@pytest.fixture
def oai(keyed_url: str) -> OpenAI:
    return OpenAI(base_url=f"{keyed_url}/v1", api_key=KEY, max_retries=0, timeout=120)


def _side(reply: Any) -> dict[str, Any]:
    """The fields this server adds beside OpenAI's (the client keeps them as extras)."""
    return dict(reply.model_extra or {})


def _say(oai: OpenAI, messages: list[dict[str, str]], **kw: Any) -> tuple[str, dict[str, Any]]:
    reply = oai.chat.completions.create(model="crm-advisor", messages=messages, **kw)  # type: ignore[call-overload]
    assert reply.object == "chat.completion" and reply.choices[0].finish_reason == "stop"
    return reply.choices[0].message.content or "", _side(reply)


def _stream(oai: OpenAI, messages: list[dict[str, str]]) -> tuple[str, dict[str, Any]]:
    text, last = "", None
    for chunk in oai.chat.completions.create(model="crm-advisor", messages=messages, stream=True):  # type: ignore[call-overload]
        assert chunk.object == "chat.completion.chunk"
        text += chunk.choices[0].delta.content or ""
        last = chunk
    assert last is not None and last.choices[0].finish_reason == "stop"
    return text, _side(last)


def test_models_are_listed_and_an_unknown_one_is_openais_404(oai: OpenAI) -> None:
    assert {m.id for m in oai.models.list()} == {"crm-advisor", "crm-advisor-review"}
    assert oai.models.retrieve("crm-advisor").owned_by == "crm-advisor"
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.code == "model_not_found"


def test_a_follow_up_continues_the_conversation(oai: OpenAI, keyed_url: str) -> None:
    first = [{"role": "system", "content": "You are helpful."},
             {"role": "user", "content": "Why do CRM projects fail?"}]  # fmt: skip
    text, side = _say(oai, first)
    assert "\nSources:\n  [1] " in text and side["citations"][0]["n"] == 1
    assert all(f"[{c['n']}]" in text for c in side["citations"])
    follow = [*first, {"role": "assistant", "content": text},
              {"role": "user", "content": "and who should own it?"}]  # fmt: skip
    again, side2 = _say(oai, follow)
    assert side2["conversation_id"] == side["conversation_id"] and again != text
    turns = httpx.get(
        f"{keyed_url}/v1/conversations/{side['conversation_id']}",
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()["turns"]
    assert len(turns) == 2 and "crm" in turns[1]["standalone_question"].lower()
    # A transcript this server never wrote starts afresh instead of joining another's.
    edited = [*first, {"role": "assistant", "content": "Something else entirely."},
              {"role": "user", "content": "and who should own it?"}]  # fmt: skip
    assert _say(oai, edited)[1]["conversation_id"] != side["conversation_id"]


def test_streaming_sends_the_same_reply_and_follows_up(oai: OpenAI) -> None:
    question = [{"role": "user", "content": "How should we phase a CRM rollout?"}]
    whole, side = _stream(oai, question)
    assert "\nSources:\n" in whole and side["citations"] and side["conversation_id"]
    follow = [*question, {"role": "assistant", "content": whole},
              {"role": "user", "content": "how long should the first phase last?"}]  # fmt: skip
    assert _stream(oai, follow)[1]["conversation_id"] == side["conversation_id"]


@pytest.mark.parametrize(
    ("model", "content"),
    [("crm-advisor-review", FLAWED), ("crm-advisor", f"Review this plan:\n\n{FLAWED}")],
)
def test_a_pasted_plan_gets_a_review(oai: OpenAI, model: str, content: str) -> None:
    messages = [{"role": "user", "content": content}]
    reply = oai.chat.completions.create(model=model, messages=messages)  # type: ignore[arg-type]
    text = reply.choices[0].message.content or ""
    assert text.startswith("Plan review: readiness") and "Red flags" in text
    assert "Sources:" in text and _side(reply)["citations"]


def test_an_off_topic_question_is_refused_in_the_text(oai: OpenAI) -> None:
    text, side = _say(oai, [{"role": "user", "content": "What is the capital of France?"}])
    assert text and side["citations"] == [] and side["answered"] is False


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], None),
        ([{"role": "wizard", "content": "hi"}], "messages.0.role"),
        ([{"role": "user", "content": "review this plan:"}], None),
    ],
)
def test_a_bad_request_is_openais_400(oai: OpenAI, messages: list[Any], param: str | None) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="crm-advisor", messages=messages)
    error = caught.value.body
    assert isinstance(error, dict) and error["message"] and error["param"] == param


def test_a_wrong_key_is_openais_401(keyed_url: str) -> None:
    bad = OpenAI(base_url=f"{keyed_url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        bad.models.list()
    assert caught.value.code == "invalid_api_key"
    problem = httpx.post(f"{keyed_url}/v1/ask", json={"question": "hi"})
    assert problem.json()["type"] == "/problems/missing-api-key"  # other routes keep theirs


def test_an_odd_earlier_message_and_null_options_are_no_error(keyed_url: str) -> None:
    # A lone surrogate, as JSON may carry it (the openai client cannot even send one).
    messages = [{"role": "user", "content": "hi \ud800 there"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "Who should own the CRM?"}]  # fmt: skip
    body = {"model": "crm-advisor", "messages": messages, "n": None, "stream": None}
    r = httpx.post(
        f"{keyed_url}/v1/chat/completions",
        content=json.dumps(body, ensure_ascii=True),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    assert r.json()["answered"] and r.json()["choices"][0]["message"]["content"]


def test_one_key_shared_by_two_people_never_joins_their_conversations(oai: OpenAI) -> None:
    first = [{"role": "user", "content": "What is a CRMO?"}]
    text_a, side_a = _say(oai, first)
    text_b, side_b = _say(oai, first)  # someone else, same key, same question and answer
    assert text_a == text_b and side_a["conversation_id"] != side_b["conversation_id"]
    follow = [*first, {"role": "assistant", "content": text_a},
              {"role": "user", "content": "who should appoint one?"}]  # fmt: skip
    joined = _say(oai, follow)[1]["conversation_id"]
    assert joined not in (side_a["conversation_id"], side_b["conversation_id"])
    # With OpenAI's `user` field each person keeps their own conversation.
    mine = _say(oai, first, user="ana")
    _say(oai, first, user="ben")
    again = [*first, {"role": "assistant", "content": mine[0]},
             {"role": "user", "content": "who should appoint one?"}]  # fmt: skip
    assert _say(oai, again, user="ana")[1]["conversation_id"] == mine[1]["conversation_id"]


def test_the_review_model_takes_follow_ups_and_a_plain_question_stays_one(oai: OpenAI) -> None:
    plan = [{"role": "user", "content": FLAWED}]
    reply = oai.chat.completions.create(model="crm-advisor-review", messages=plan)  # type: ignore[arg-type]
    text = reply.choices[0].message.content or ""
    follow = [*plan, {"role": "assistant", "content": text},
              {"role": "user", "content": "Which red flag should we fix first?"}]  # fmt: skip
    answer = oai.chat.completions.create(model="crm-advisor-review", messages=follow)  # type: ignore[arg-type]
    assert not (answer.choices[0].message.content or "").startswith("Plan review")
    assert _side(answer)["conversation_id"] == _side(reply)["conversation_id"]
    asked, side = _say(oai, [{"role": "user", "content": "Review the plan phases: how long?"}])
    assert not asked.startswith("Plan review") and "answered" in side
