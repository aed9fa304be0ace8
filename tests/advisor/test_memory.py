"""The conversation store: durable, ordered, safe with several writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from advisor.contract import Answer
from advisor.errors import InvalidInputError, StoreError
from advisor.inputs import check_conversation_id
from advisor.memory import SQLConversationStore


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


def _open_at_once(url: str, n: int) -> tuple[list[SQLConversationStore], list[Exception]]:
    """Open n stores on url from n threads started together; the stores and the errors."""
    start = threading.Barrier(n)
    opened: list[SQLConversationStore] = []
    errors: list[Exception] = []

    def open_store() -> None:
        start.wait()
        try:
            opened.append(SQLConversationStore(url))
        except Exception as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for store in opened:
        store.close()
    return opened, errors


def test_stores_opening_a_fresh_file_at_once_all_succeed(tmp_path: Path) -> None:
    # Workers starting together each create the tables and switch the file to WAL; the
    # losers of those races must wait, not fail with "already exists" or "locked".
    for n in range(10):
        opened, errors = _open_at_once(f"sqlite:///{tmp_path / f'fresh{n}.db'}", 8)
        assert errors == []
        assert len(opened) == 8


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


def test_recent_lists_one_places_conversations_newest_first(tmp_path: Path) -> None:
    store = SQLConversationStore(f"sqlite:///{tmp_path / 'c.db'}")
    for cid, question in [
        ("slack:T1:D1:1.1", "Who should own it?"),
        ("slack:T1:D1:1.2", "Is the plan too broad?"),
        ("slack:T1:D12:1.3", "Another user's DM"),
        ("slack:TX1:D1:1.4", "Another team"),
    ]:
        store.append(cid, question, _answer(cid, "a"))
    store.append("slack:T1:D1:1.1", "And the budget?", _answer("slack:T1:D1:1.1", "b"))
    recent = store.recent("slack:T1:D1:", limit=5)
    assert [(r.conversation_id, r.title, r.turns) for r in recent] == [
        ("slack:T1:D1:1.1", "Who should own it?", 2),
        ("slack:T1:D1:1.2", "Is the plan too broad?", 1),
    ]
    assert recent[0].updated >= recent[1].updated
    assert len(store.recent("slack:T1:", limit=1)) == 1
    assert store.recent("slack:T9:", limit=5) == []
    assert store.recent("slack:T_1:", limit=5) == []  # "_" and "%" are not wildcards


def test_a_store_error_names_the_reason_not_the_statement() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    failed = OperationalError(
        "INSERT INTO turns (question) VALUES (?)",
        ("our budget is 2M EUR",),
        sqlite3.OperationalError("database is locked"),
    )
    assert "budget" in str(failed) and "INSERT" in str(failed)  # what must not leak
    error = StoreError.of("could not save the conversation turn", failed)
    assert str(error) == "could not save the conversation turn: database is locked"
    assert str(StoreError.of("could not read", OSError())) == "could not read: OSError"
