"""The conversation store's contract on a real PostgreSQL server, with threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from advisor.contract import Answer, Feedback, Review
from advisor.errors import StoreError
from advisor.memory import SQLConversationStore, open_database
from bot.state import SharedState
from bot.state import tables as state_tables
from tests.servers import _free_port, fresh_database, postgres_server


def _answer(cid: str, text: str) -> Answer:
    return Answer(answer=text, answered=True, conversation_id=cid, standalone_question=text)


def _review(cid: str, summary: str) -> Review:
    return Review(
        conversation_id=cid,
        readiness=40,
        verdict="needs work",
        summary=summary,
        text=f"Review: {summary}",
    )


@pytest.fixture
def store(pg_database: str) -> Iterator[SQLConversationStore]:
    """A store on a fresh database of the session's server."""
    s = SQLConversationStore(pg_database)
    yield s
    s.close()


def _run_threads(n: int, work: Any) -> list[BaseException]:
    """Run work(i) in n threads started together; return what they raised."""
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as exc:  # reported by the test, not lost in a thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_turns_are_numbered_and_kept_in_order(store: SQLConversationStore) -> None:
    assert store.engine.dialect.name == "postgresql"
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
    assert store.exists("c1")
    assert not store.exists("nope")
    assert store.turns("nope") == []


def test_text_survives_the_round_trip(store: SQLConversationStore) -> None:
    text = "Ünïcode ✓, quotes ' \" and a NUL-free 'DROP TABLE turns;--' " + "x" * 20_000
    store.append("T1:C1:1700000000.000100", text, _answer("T1:C1:1700000000.000100", text))
    (turn,) = store.turns("T1:C1:1700000000.000100")
    assert turn.question == text
    assert turn.answer.answer == text


def test_sixteen_threads_lose_and_duplicate_no_turn(
    store: SQLConversationStore, pg_database: str
) -> None:
    # Four stores of four threads each, as four workers would; each store has its own pool.
    stores = [store] + [SQLConversationStore(pg_database) for _ in range(3)]

    def write(n: int) -> None:
        for i in range(10):
            stores[n % 4].append("shared", f"t{n}-{i}", _answer("shared", "a"))

    errors = _run_threads(16, write)
    for s in stores[1:]:
        s.close()
    assert [str(e) for e in errors] == []
    turns = store.turns("shared")
    assert [t.turn for t in turns] == list(range(1, 161))
    assert len({t.question for t in turns}) == 160
    # Each writer's own turns keep the order it wrote them in.
    for n in range(16):
        mine = [t.question for t in turns if t.question.startswith(f"t{n}-")]
        assert mine == [f"t{n}-{i}" for i in range(10)]


def _append_many(url: str, worker: int, count: int, start: Any, out: Any) -> None:
    """In a child process: append count turns to one conversation once all workers are ready."""
    store = SQLConversationStore(url)
    try:
        start.wait(timeout=60)
        numbers, error = [], ""
        for i in range(count):
            try:
                numbers.append(store.append("shared", f"p{worker}-{i}", _answer("shared", "a")))
            except StoreError as exc:
                error = str(exc)
                break
        out.put((worker, numbers, error))
    finally:
        store.close()


def _claim_all(url: str, worker: int, keys: list[str], start: Any, out: Any) -> None:
    """In a child process: try to claim every key once all workers are ready."""
    state = SharedState(url)
    try:
        start.wait(timeout=60)
        out.put((worker, [key for key in keys if state.claim(key)]))
    finally:
        state.close()


def _in_processes(target: Any, args: list[tuple[Any, ...]]) -> list[Any]:
    """Run target(*a, start, out) in one spawned process per args; return what each put."""
    ctx = multiprocessing.get_context("spawn")  # no fork: each worker is a fresh interpreter
    start, out = ctx.Barrier(len(args)), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*a, start, out)) for a in args]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return results


def _open_state_and_store(url: str) -> list[Any]:
    """Open the shared-state tables and a store on url from 8 threads at once; the errors."""
    engines: list[Any] = []

    def open_both(_i: int) -> None:
        engines.append(open_database(url, state_tables))
        engines.append(SQLConversationStore(url).engine)

    errors = _run_threads(8, open_both)
    for engine in engines:
        engine.dispose()
    return errors


def test_workers_opening_a_fresh_database_at_once_all_succeed(postgres_url: str) -> None:
    # Several workers starting together each create the tables on first use; the loser of
    # "does it exist? then CREATE" must not fail with "relation already exists".
    for _ in range(5):
        with fresh_database(postgres_url) as url:
            assert _open_state_and_store(url) == []


def test_two_processes_append_to_one_conversation(
    store: SQLConversationStore, pg_database: str
) -> None:
    results = _in_processes(_append_many, [(pg_database, w, 40) for w in range(2)])
    assert [error for _, _, error in results] == ["", ""]
    numbers = sorted(n for _, ns, _ in results for n in ns)
    assert numbers == list(range(1, 81))
    turns = store.turns("shared")
    assert [t.turn for t in turns] == list(range(1, 81))
    assert len({t.question for t in turns}) == 80


@pytest.fixture
def shared(pg_database: str) -> Iterator[SharedState]:
    """The front doors' shared state (claims, pacing) on a fresh database of the server."""
    s = SharedState(pg_database)
    yield s
    s.close()


def test_a_key_is_claimed_exactly_once_across_processes(
    shared: SharedState, pg_database: str
) -> None:
    keys = [f"slack-event:Ev{i:04d}" for i in range(60)]
    results = _in_processes(_claim_all, [(pg_database, w, keys) for w in range(3)])
    won = [key for _, claimed in results for key in claimed]
    assert sorted(won) == keys  # every key claimed, and by one process only
    assert shared.claim(keys[0]) is False
    assert shared.claim("slack-event:new") is True


def test_claims_from_threads_are_exclusive(shared: SharedState) -> None:
    wins: list[int] = []

    def claim(i: int) -> None:
        if shared.claim("slack-event:Ev1"):
            wins.append(i)

    errors = _run_threads(16, claim)
    assert errors == []
    assert len(wins) == 1


def test_a_long_key_is_claimed_by_its_first_255_characters(shared: SharedState) -> None:
    key = "k" * 300
    assert shared.claim(key) is True
    assert shared.claim(key[:255] + "different tail") is False


def test_concurrent_feedback_leaves_one_rating_per_turn(store: SQLConversationStore) -> None:
    for i in range(4):
        store.append("c", f"q{i}", _answer("c", "a"))

    def rate(n: int) -> None:
        for i in range(5):
            turn = 1 + (n + i) % 4
            rating = "up" if n % 2 else "down"
            store.set_feedback(
                Feedback(conversation_id="c", turn=turn, rating=rating, comment=f"w{n}-{i}")
            )

    errors = _run_threads(16, rate)
    assert errors == []
    feedback = store.feedback("c")
    assert [f.turn for f in feedback] == [1, 2, 3, 4]
    for f in feedback:
        assert f.comment is not None and f.comment.startswith("w")
        n = int(f.comment[1:].split("-")[0])
        assert f.rating == ("up" if n % 2 else "down")  # a whole rating, never half of two
        assert f.created > 0


def test_a_later_rating_replaces_the_earlier(store: SQLConversationStore) -> None:
    store.append("c", "q", _answer("c", "a"))
    store.set_feedback(Feedback(conversation_id="c", turn=1, rating="up"))
    store.set_feedback(Feedback(conversation_id="c", turn=1, rating="down", comment="wrong"))
    (only,) = store.feedback("c")
    assert (only.rating, only.comment) == ("down", "wrong")
    assert store.feedback("other") == []


def test_reviews_are_turns_with_the_review_beside_them(store: SQLConversationStore) -> None:
    assert store.append("c", "q", _answer("c", "a")) == 1
    assert store.append_review("c", "my plan", _review("c", "thin goals")) == 2
    assert store.append("c", "why?", _answer("c", "because")) == 3
    reviews = store.reviews("c")
    assert list(reviews) == [2]
    assert reviews[2].turn == 2
    assert reviews[2].summary == "thin goals"
    turns = store.turns("c")
    assert turns[1].answer.generator == "plan-review"
    assert turns[1].answer.answer == "Review: thin goals"
    assert store.reviews("other") == {}


def test_concurrent_reviews_and_answers_share_one_numbering(store: SQLConversationStore) -> None:
    def write(n: int) -> None:
        for i in range(5):
            if n % 2:
                store.append_review("c", f"plan {n}-{i}", _review("c", f"r{n}-{i}"))
            else:
                store.append("c", f"q{n}-{i}", _answer("c", "a"))

    assert _run_threads(8, write) == []
    turns = store.turns("c")
    assert [t.turn for t in turns] == list(range(1, 41))
    reviews = store.reviews("c")
    assert len(reviews) == 20
    for turn in turns:
        if turn.question.startswith("plan"):
            assert reviews[turn.turn].summary == "r" + turn.question.removeprefix("plan ")
        else:
            assert turn.turn not in reviews


def test_an_unreachable_server_is_a_store_error() -> None:
    url = f"postgresql+psycopg://advisor:s3cret-pw@127.0.0.1:{_free_port()}/advisor"
    with pytest.raises(StoreError) as caught:
        SQLConversationStore(url)
    message = str(caught.value)
    assert message.startswith("cannot open the conversation store:")
    assert "refused" in message.lower()
    assert "s3cret-pw" not in message


def test_a_server_that_goes_away_is_a_store_error(postgres_url: str) -> None:
    # A private server, since this test stops it; postgres_url only brings the skip-or-fail rule.
    with postgres_server() as url:
        store = SQLConversationStore(url)
        assert store.append("c", "q", _answer("c", "a")) == 1
        shared = SharedState(url)
        assert shared.claim("slack-event:Ev0") is True
    calls = {
        "could not save the conversation turn": lambda: store.append("c", "q", _answer("c", "a")),
        "could not read the conversation": lambda: store.turns("c"),
        "could not save the feedback": lambda: store.set_feedback(
            Feedback(conversation_id="c", turn=1, rating="up")
        ),
        "could not read the feedback": lambda: store.feedback("c"),
        "could not record the event": lambda: shared.claim("slack-event:Ev1"),
        "could not read the plan reviews": lambda: store.reviews("c"),
    }
    for prefix, call in calls.items():
        with pytest.raises(StoreError, match=f"^{prefix}"):
            call()
    store.close()
    shared.close()
