"""Shared front-door state: Slack event claims and rate pacing, one set across workers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bot.state import SharedState


def test_a_key_is_claimed_once_even_across_store_instances(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'claims.db'}"
    first, second = SharedState(url), SharedState(url)
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
    a, b = SharedState(url), SharedState(url)
    per_second, burst = 1 / 3600, 3.0  # so slow that nothing refills during the test
    waits = [(a if i % 2 else b).pace("key:one", per_second, burst) for i in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(3590 < w <= 3600 for w in waits[3:])
    assert a.pace("key:other", per_second, burst) == 0.0  # keys are counted apart


def test_pacing_refills_at_the_rate(tmp_path: Path) -> None:
    state = SharedState(f"sqlite:///{tmp_path / 'c.db'}")
    assert state.pace("k", per_second=20.0, burst=1.0) == 0.0
    wait = state.pace("k", per_second=20.0, burst=1.0)
    assert 0 < wait <= 0.05
    time.sleep(wait + 0.01)
    assert state.pace("k", per_second=20.0, burst=1.0) == 0.0


def test_pacing_from_many_threads_lets_exactly_the_burst_through(tmp_path: Path) -> None:
    state = SharedState(f"sqlite:///{tmp_path / 'c.db'}")
    allowed: list[bool] = []

    def hit() -> None:
        allowed.append(state.pace("key:busy", 1 / 3600, 5.0) == 0.0)

    threads = [threading.Thread(target=hit) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert allowed.count(True) == 5


def test_a_transcript_shared_by_two_conversations_continues_neither(tmp_path: Path) -> None:
    state = SharedState(f"sqlite:///{tmp_path / 's.db'}")
    state.remember_thread("k1", "c1")
    state.remember_thread("k1", "c1")  # the same conversation again: still c1
    assert state.thread("k1") == "c1"
    state.remember_thread("k1", "c2")  # another conversation reached the same transcript
    assert state.thread("k1") is None
    state.remember_thread("k1", "c1")
    assert state.thread("k1") is None and state.thread("never") is None


def test_old_transcripts_are_forgotten(tmp_path: Path) -> None:
    from bot import state as module

    state = SharedState(f"sqlite:///{tmp_path / 's.db'}")
    state.remember_thread("old", "c1")
    with state.engine.begin() as conn:
        conn.execute(module.threads_table.update().values(created=time.time() - 31 * 86400))
    state._threads_recorded = module.PRUNE_EVERY  # the next reply prunes
    state.remember_thread("new", "c2")
    assert state.thread("old") is None and state.thread("new") == "c2"
