"""The conversation store: durable, ordered, safe with several writers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from advisor.errors import InvalidInputError, StoreError
from advisor.memory import SQLConversationStore, check_conversation_id
from advisor.models import Answer


def _answer(cid: str, text: str) -> Answer:
    return Answer(answer=text, answered=True, conversation_id=cid, standalone_question=text)


def test_turns_are_numbered_and_kept_in_order(tmp_path: Path) -> None:
    store = SQLConversationStore(f"sqlite:///{tmp_path / 'c.db'}")
    assert store.append("c1", "q1", _answer("c1", "a1")) == 1
    assert store.append("c1", "q2", _answer("c1", "a2")) == 2
    assert store.append("c2", "other", _answer("c2", "x")) == 1
    turns = store.turns("c1")
    assert [(t.turn, t.question, t.answer.answer) for t in turns] == [
        (1, "q1", "a1"),
        (2, "q2", "a2"),
    ]
    assert turns[1].answer.turn == 2
    assert [t.turn for t in store.turns("c1", last=1)] == [2]
    assert not store.exists("nope")


def test_concurrent_writers_lose_no_turn(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    stores = [SQLConversationStore(url) for _ in range(4)]  # as if four processes

    def write(store: SQLConversationStore, n: int) -> None:
        for i in range(15):
            store.append("shared", f"w{n}-{i}", _answer("shared", "a"))

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    turns = stores[0].turns("shared")
    assert [t.turn for t in turns] == list(range(1, 61))
    assert len({t.question for t in turns}) == 60


def test_unwritable_store_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError):
        SQLConversationStore(f"sqlite:///{blocker / 'sub' / 'c.db'}")


@pytest.mark.parametrize("bad", ["", "x" * 129, "has space", "semi;colon", "../etc"])
def test_bad_conversation_ids_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInputError):
        check_conversation_id(bad)


def test_slack_style_ids_are_fine() -> None:
    assert check_conversation_id("T123:C456:1700000000.000100") == "T123:C456:1700000000.000100"


def test_a_key_is_claimed_once_even_across_store_instances(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'claims.db'}"
    first, second = SQLConversationStore(url), SQLConversationStore(url)
    try:
        assert first.claim("slack-event:Ev1") is True
        assert second.claim("slack-event:Ev1") is False
        assert second.claim("slack-event:Ev2") is True
    finally:
        first.close()
        second.close()


def test_pacing_is_one_budget_across_store_instances(tmp_path: Path) -> None:
    # Two instances on one database stand for two workers: together they get one burst.
    url = f"sqlite:///{tmp_path / 'c.db'}"
    a, b = SQLConversationStore(url), SQLConversationStore(url)
    per_second, burst = 1 / 3600, 3.0  # so slow that nothing refills during the test
    waits = [(a if i % 2 else b).pace("key:one", per_second, burst) for i in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(3590 < w <= 3600 for w in waits[3:])
    assert a.pace("key:other", per_second, burst) == 0.0  # keys are counted apart


def test_pacing_refills_at_the_rate(tmp_path: Path) -> None:
    store = SQLConversationStore(f"sqlite:///{tmp_path / 'c.db'}")
    assert store.pace("k", per_second=20.0, burst=1.0) == 0.0
    wait = store.pace("k", per_second=20.0, burst=1.0)
    assert 0 < wait <= 0.05
    time.sleep(wait + 0.01)
    assert store.pace("k", per_second=20.0, burst=1.0) == 0.0


def test_pacing_from_many_threads_lets_exactly_the_burst_through(tmp_path: Path) -> None:
    store = SQLConversationStore(f"sqlite:///{tmp_path / 'c.db'}")
    allowed: list[bool] = []

    def hit() -> None:
        allowed.append(store.pace("key:busy", 1 / 3600, 5.0) == 0.0)

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 5
