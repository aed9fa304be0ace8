"""Faults: a damaged index, a full or read-only disk, concurrent writers, a killed ingest,
flaky Slack and a dead or hanging LLM. The advisor reports each and loses nothing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from advisor.config import Settings
from advisor.facade import Advisor
from advisor.memory import SQLConversationStore
from bot.slack import conversation_id
from tests.bot.conftest import doors, live_server
from tests.bot.fake_slack import TEAM, FakeSlack, signed_headers

Q = "Why do CRM projects fail?"


def _env(data: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "ADVISOR_DATA_DIR": str(data), "HF_HUB_OFFLINE": "1", **extra}


def _cli(data: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "advisor.cli", *args],
        capture_output=True,
        text=True,
        env=_env(data, **extra),
        timeout=600,
    )


@contextmanager
def serving(settings: Settings, embedder: Any) -> Iterator[httpx.Client]:
    """A fresh Advisor behind a real server, as a client of it."""
    with (
        live_server(settings, Advisor(settings, embedder=embedder)) as url,
        httpx.Client(base_url=url, timeout=120) as client,
    ):
        yield client


def _wait_ready(client: httpx.Client, want: int, within: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        r = client.get("/readyz")
        busy = r.status_code == 503 and r.json()["detail"].startswith("loading")
        if (r.status_code == want and not busy) or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


# -- the index ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "damage",
    ["chroma/chroma.sqlite3", "manifest.json", "../CURRENT"],
    ids=["vectors-corrupt", "manifest-corrupt", "pointer-corrupt"],
)
def test_a_corrupt_index_at_start_is_reported_and_ingest_repairs_it(
    tmp_path: Path, index_dir: Path, embedder: Any, damage: str
) -> None:
    """/readyz is 503 with the reason, the CLI says what to run, `advisor ingest` mends it."""
    data = tmp_path / "data"
    shutil.copytree(index_dir / "index", data / "index")
    current = (data / "index" / "CURRENT").read_text().strip()
    (data / "index" / current / damage).write_bytes(os.urandom(4096))
    settings = Settings(data_dir=data, database_url=f"sqlite:///{tmp_path / 'conv.db'}")

    with serving(settings, embedder) as c:
        r = _wait_ready(c, 503)
        assert r.status_code == 503 and "advisor ingest" in r.json()["detail"]
        assert c.post("/v1/ask", json={"question": Q}).status_code == 503

        asked = _cli(data, "ask", Q)
        assert asked.returncode == 1
        assert "advisor ingest" in asked.stderr and "Traceback" not in asked.stderr

        repaired = _cli(data, "ingest")
        assert repaired.returncode == 0, repaired.stderr
        assert "rebuilt it" in repaired.stdout

        # The server retries its load now and then; it recovers without a restart.
        assert _wait_ready(c, 200).status_code == 200
        answer = c.post("/v1/ask", json={"question": Q}).json()
        assert answer["answered"] and answer["citations"]


def test_a_killed_ingest_leaves_the_last_good_index_serving(
    tmp_path: Path, index_dir: Path, embedder: Any
) -> None:
    """SIGKILL part-way through a full re-index: the old generation serves; a rerun finishes."""
    data = tmp_path / "data"
    shutil.copytree(index_dir / "index", data / "index")
    good = (data / "index" / "CURRENT").read_text().strip()
    # A new chunk size changes every passage, so the ingest has minutes of work, not seconds.
    rechunk = {"ADVISOR_CHUNK_SIZE": "450"}
    cmd = [sys.executable, "-m", "advisor.cli", "ingest"]
    ingest = subprocess.Popen(cmd, env=_env(data, **rechunk), stderr=subprocess.DEVNULL)
    new = data / "index" / f"gen-{int(good.split('-')[1]) + 1:06d}"
    deadline = time.monotonic() + 120
    while not (new / "chroma").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.0)  # into the embedding and writing of the new generation
    assert ingest.poll() is None, "the ingest finished before it could be killed"
    ingest.send_signal(signal.SIGKILL)
    ingest.wait()

    assert (data / "index" / "CURRENT").read_text().strip() == good
    settings = Settings(data_dir=data, database_url=f"sqlite:///{tmp_path / 'conv.db'}")
    with serving(settings, embedder) as c:
        assert _wait_ready(c, 200).json()["index"] == good
        assert c.post("/v1/ask", json={"question": Q}).json()["answered"]

    rerun = _cli(data, "ingest", **rechunk)
    assert rerun.returncode == 0, rerun.stderr
    assert (data / "index" / "CURRENT").read_text().strip() == new.name


# -- the conversation store ----------------------------------------------------------
def _seed(url: str) -> str:
    with httpx.Client(base_url=url, timeout=60) as c:
        cid = c.post("/v1/ask", json={"question": Q}).json()["conversation_id"]
        c.post("/v1/ask", json={"question": "Who should own it?", "conversation_id": cid})
        c.post("/v1/feedback", json={"conversation_id": cid, "turn": 2, "rating": "up"})
    return cid


def _held(db: Path, cid: str) -> list[tuple[int, str, str | None]]:
    store = SQLConversationStore(f"sqlite:///{db}")
    try:
        ratings = {f.turn: f.rating for f in store.feedback(cid)}
        return [(t.turn, t.question, ratings.get(t.turn)) for t in store.turns(cid)]
    finally:
        store.close()


def test_a_full_disk_is_reported_and_every_acknowledged_write_is_kept(
    small_disk: Path, settings: Settings, embedder: Any
) -> None:
    """With no space left, writes get 503 store-error; reads and earlier turns are unharmed."""
    db = small_disk / "conv.db"
    on_disk = settings.model_copy(update={"database_url": f"sqlite:///{db}"})
    with live_server(on_disk, Advisor(on_disk, embedder=embedder)) as url:
        cid = _seed(url)
        with open(small_disk / "filler", "wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass  # the disk is full
        acknowledged = _held(db, cid)
        with httpx.Client(base_url=url, timeout=60) as c:
            follow = {"question": "And how do we measure it?", "conversation_id": cid}
            refused = None
            for _ in range(50):  # SQLite may reuse space it already holds before it runs out
                r = c.post("/v1/ask", json=follow)
                if r.status_code != 200:
                    refused = r
                    break
                acknowledged.append((r.json()["turn"], follow["question"], None))
            assert refused is not None, "the full disk never refused a write"
            assert refused.status_code == 503
            assert refused.json()["type"] == "/problems/store-error"
            rate = {"conversation_id": cid, "turn": 1, "rating": "down"}
            assert c.post("/v1/feedback", json=rate).status_code in (201, 503)
            assert c.get(f"/v1/conversations/{cid}").status_code == 200
            assert c.get("/healthz").status_code == 200

            (small_disk / "filler").unlink()
            assert c.post("/v1/ask", json=follow).status_code == 200
    held = _held(db, cid)
    assert held[: len(acknowledged)][:2] == acknowledged[:2]
    assert [t[:2] for t in held[: len(acknowledged)]] == [t[:2] for t in acknowledged]


def test_a_read_only_store_is_reported_and_its_data_is_intact(
    small_disk: Path, tmp_path: Path, settings: Settings, embedder: Any
) -> None:
    """On a read-only mount writes get 503 store-error; the data is there when it is writable."""
    db = small_disk / "conv.db"
    writable = settings.model_copy(update={"database_url": f"sqlite:///{db}"})
    with live_server(writable, Advisor(writable, embedder=embedder)) as url:
        cid = _seed(url)
    before = _held(db, cid)
    view = tmp_path / "read-only"
    view.mkdir()
    subprocess.run(["mount", "--bind", str(small_disk), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        read_only = settings.model_copy(update={"database_url": f"sqlite:///{view / 'conv.db'}"})
        with serving(read_only, embedder) as c:
            r = c.post("/v1/ask", json={"question": "Who owns it?", "conversation_id": cid})
            assert r.status_code == 503
            assert r.json()["type"] == "/problems/store-error"
            rate = {"conversation_id": cid, "turn": 1, "rating": "down"}
            fb = c.post("/v1/feedback", json=rate)
            assert fb.status_code == 503 and fb.json()["type"] == "/problems/store-error"
            assert c.get("/healthz").status_code == 200
    finally:
        subprocess.run(["umount", str(view)], check=False)
    assert _held(db, cid) == before


def test_api_and_slack_writing_at_once_lose_no_turn_or_rating(
    settings: Settings, embedder: Any
) -> None:
    """Twelve HTTP clients and twelve Slack threads share one store; every write lands."""
    secret = "concurrency-secret"
    with FakeSlack() as slack:
        front = doors(
            rate_limit=0,
            slack_bot_token=SecretStr("xoxb-test"),
            slack_signing_secret=SecretStr(secret),
            slack_api_url=slack.url,
            slack_update_interval=30.0,
        )
        with live_server(settings, Advisor(settings, embedder=embedder), front) as url:

            def http_client(n: int) -> str:
                with httpx.Client(base_url=url, timeout=120) as c:
                    cid = c.post("/v1/ask", json={"question": Q}).json()["conversation_id"]
                    for turn, q in ((2, "Who should own it?"), (3, "How do we phase it?")):
                        body = {"question": q, "conversation_id": cid}
                        assert c.post("/v1/ask", json=body).json()["turn"] == turn
                    for turn in (1, 2, 3):
                        rating = {"conversation_id": cid, "turn": turn, "rating": "up"}
                        assert c.post("/v1/feedback", json=rating).status_code == 201
                    return cid

            def slack_thread(n: int) -> str:
                ts = f"1700001{n:03d}.000100"
                event = {
                    "type": "app_mention",
                    "user": "U1",
                    "channel": "C7",
                    "ts": ts,
                    "text": "<@UBOT> why is our CRM plan too broad?",
                }
                payload = {
                    "team_id": TEAM,
                    "api_app_id": "A1",
                    "type": "event_callback",
                    "event_id": f"EvC{n}",
                    "event_time": int(time.time()),
                    "event": event,
                }
                import json

                body = json.dumps(payload)
                headers = signed_headers(secret, body, "application/json")
                r = httpx.post(f"{url}/slack/events", content=body, headers=headers, timeout=60)
                assert r.status_code == 200
                return conversation_id(TEAM, "C7", ts)

            with ThreadPoolExecutor(max_workers=24) as pool:
                https = [pool.submit(http_client, n) for n in range(12)]
                slacks = [pool.submit(slack_thread, n) for n in range(12)]
                http_ids = [f.result() for f in https]
                slack_ids = [f.result() for f in slacks]
            slack.wait_for(
                lambda: len([c for c in slack.of("chat.update") if "blocks" in c["args"]]) == 12,
                timeout=120,
            )
    store = SQLConversationStore(settings.resolved_database_url)
    try:
        for cid in http_ids:
            assert [t.turn for t in store.turns(cid)] == [1, 2, 3]
            assert [f.turn for f in store.feedback(cid)] == [1, 2, 3]
        for cid in slack_ids:
            assert [t.turn for t in store.turns(cid)] == [1]
    finally:
        store.close()


# -- the LLM --------------------------------------------------------------------------
@pytest.fixture
def hanging_port() -> Iterator[int]:
    """A port that accepts connections and never answers, like a wedged LLM server."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.parametrize("state", ["down", "hanging"])
def test_a_dead_or_hanging_llm_still_gets_the_extractive_answer_in_bounded_time(
    settings: Settings, embedder: Any, hanging_port: int, state: str
) -> None:
    """Connection refused or no reply at all: the extractive answer by the LLM deadline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead_port = s.getsockname()[1]  # closed again: nothing listens there
    port = hanging_port if state == "hanging" else dead_port
    llm = settings.model_copy(
        update={
            "llm": "openai",
            "llm_base_url": f"http://127.0.0.1:{port}/v1",
            "llm_model": "gemma",
            "llm_timeout": 2.0,
            "llm_max_retries": 1,
            "llm_backoff": 0.2,
            "llm_deadline": 4.0,
        }
    )
    with serving(llm, embedder) as c:
        started = time.monotonic()
        answer = c.post("/v1/ask", json={"question": Q}).json()
        took = time.monotonic() - started
    assert answer["answered"] and answer["generator"] == "extractive"
    assert answer["fallback"]
    assert took < llm.llm_deadline + 5.0, f"the fallback took {took:.1f}s"
