"""LLM answers through the front doors: SSE over real HTTP, a killed server, Slack streaming."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import httpx

from advisor.config import Settings
from advisor.facade import Advisor
from bot.slack import conversation_id
from tests.advisor.ask.fake_chat import ScriptedChat
from tests.advisor.ask.test_writer import QUESTION, assert_grounded, quoted
from tests.bot.conftest import Serve, post
from tests.bot.conftest import ready as ready_json
from tests.bot.fake_slack import TEAM
from tests.bot.test_slack import all_text, mention, slack_rig
from tests.llm_server import MODEL_ALIAS, llama_server


def sse(response: httpx.Response) -> list[tuple[str, Any]]:
    out = []
    for block in response.text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_the_stream_endpoint_relays_a_real_llm_answer(serve: Serve, llm_settings, embedder):
    advisor = Advisor(llm_settings, embedder=embedder)
    with serve(advisor=advisor) as url:
        r = post(f"{url}/v1/ask/stream", json={"question": QUESTION})
        assert r.status_code == 200
        events = sse(r)
        ready = ready_json(url)
    kinds = [k for k, _ in events]
    assert kinds[0] == "citations" and kinds[-1] == "answer"
    answer = events[-1][1]
    assert answer["answered"] and answer["guard"]["sentences"] > 0
    # What the client was left with after any reset is exactly the final answer.
    start = kinds.index("reset") + 1 if "reset" in kinds else 0
    assert "".join(d["text"] for k, d in events[start:] if k == "delta") == answer["answer"]
    assert ready["llm"] == f"openai:{MODEL_ALIAS}" and ready["requests"] == 1


def test_killing_the_llm_server_mid_conversation_still_gives_answers(
    serve: Serve, settings: Settings, embedder
) -> None:
    with llama_server() as (llm_url, proc):
        custom = settings.model_copy(
            update={
                "llm": "openai",
                "llm_base_url": llm_url,
                "llm_model": MODEL_ALIAS,
                "llm_max_retries": 1,
                "llm_backoff": 0.1,
                "llm_max_tokens": 160,
                "llm_deadline": 180,
                "llm_system_role": False,
            }
        )
        with serve(advisor=Advisor(custom, embedder=embedder)) as url:
            first = post(f"{url}/v1/ask", json={"question": QUESTION}).json()
            assert first["answered"] and first["guard"] is not None  # the model did write
            proc.kill()
            proc.wait(timeout=10)
            started = time.monotonic()
            follow = post(
                f"{url}/v1/ask",
                json={
                    "question": "And who should own it?",
                    "conversation_id": first["conversation_id"],
                },
            )
            waited = time.monotonic() - started
            assert follow.status_code == 200
            body = follow.json()
            assert body["answered"] and body["generator"] == "extractive" and body["fallback"]
            # A dead server refuses at once: no waiting for the deadline.
            assert body["turn"] == 2 and waited < 30
            later = post(f"{url}/v1/ask", json={"question": "How should we phase a rollout?"})
            assert later.status_code == 200 and "trying it again" in later.json()["fallback"]
            ready = ready_json(url)
            assert ready["status"] == "ready" and ready["fallback_error"] >= 1


def test_slack_edits_the_placeholder_as_llm_text_arrives(serve: Serve, settings, embedder):
    probe = Advisor(settings, embedder=embedder, chat=ScriptedChat())
    sentences = [quoted(probe, QUESTION, rank) for rank in range(3)]
    reply = " ".join(f"{s} [{n}]" for s, n in sentences)
    chat = ScriptedChat(replies=[reply], delay=0.04)
    advisor = Advisor(settings, embedder=embedder, chat=chat)
    with slack_rig(serve, advisor, slack_update_interval=0.4) as rig:
        rig.event(mention(QUESTION, "1700000000.000100"), "EvLLM")
        rig.slack.wait_for(lambda: any("blocks" in c["args"] for c in rig.slack.of("chat.update")))
        updates = rig.slack.of("chat.update")
    partial, final = updates[:-1], updates[-1]
    assert partial, "no edit before the final answer"
    assert all(u["args"]["text"].endswith(" …") for u in partial)
    lengths = [len(u["args"]["text"]) for u in partial]
    assert lengths == sorted(lengths)  # each edit shows more of the answer
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(partial)]
    assert all(g >= 0.35 for g in gaps), gaps  # paced to the interval, for Slack's limits
    blocks = final["args"]["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert "Written by fake:scripted" in all_text(blocks)
    turn = advisor.conversation(conversation_id(TEAM, "C1", "1700000000.000100"))[0]
    assert turn.answer.generator == "fake:scripted"
    assert_grounded(turn.answer, embedder)
