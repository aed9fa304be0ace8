"""What the front doors share across workers and hosts: Slack event claims, rate pacing,
and which conversation an OpenAI-style chat transcript continues.

All live in the conversation store's database (``ADVISOR_DATABASE_URL``, SQLite by
default), in tables of their own, so that every worker sees one set of claims and one
rate per key. The core knows nothing of them.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import Column, Float, MetaData, String, Table, case, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from advisor import StoreError, open_database

log = logging.getLogger("advisor.http")
THREAD_DAYS = 30  # how long a chat transcript can be continued
PRUNE_EVERY = 500  # recorded replies between two prunings, per process
tables = MetaData()
claims_table = Table(
    "claims",
    tables,
    Column("key", String(255), primary_key=True),
    Column("created", Float, nullable=False),
)
pacing_table = Table(
    "pacing",
    tables,
    Column("key", String(255), primary_key=True),
    Column("due", Float, nullable=False),  # GCRA's theoretical arrival time, epoch seconds
)
threads_table = Table(
    "chat_threads",
    tables,
    Column("key", String(64), primary_key=True),  # a digest of the caller and the transcript
    Column("conversation_id", String(128), nullable=False),
    Column("created", Float, nullable=False),
)


class SharedState:
    """Claims and pacing on one database; safe across threads, processes and hosts.

    The database is opened on first use, so a store that is down costs the requests that
    need it a StoreError (a 503 problem), not the server its start.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.claimed: dict[str, int] = {}  # this process's claims, by kind
        self.duplicates: dict[str, int] = {}  # ... and refusals (a retry seen before)
        self._threads_recorded = 0

    @property
    def engine(self) -> Engine:
        """The engine, opened (and the tables created) on first use; StoreError if it fails."""
        with self._lock:
            if self._engine is None:
                self._engine = open_database(self.url, tables)
            return self._engine

    def claim(self, key: str) -> bool:
        """True the first time a key is claimed, False ever after (across processes).

        Counts claims and refusals by the key's kind (before its ``:``) in ``claimed`` and
        ``duplicates``: Slack events received and retries answered once (/metrics).
        """
        kind = key.split(":", 1)[0]
        try:
            with self.engine.begin() as conn:
                conn.execute(claims_table.insert().values(key=key[:255], created=time.time()))
            self._count(self.claimed, kind)
            return True
        except IntegrityError:
            self._count(self.duplicates, kind)
            return False
        except SQLAlchemyError as exc:
            raise StoreError.of("could not record the event", exc) from exc

    def _count(self, counts: dict[str, int], kind: str) -> None:
        with self._count_lock:
            counts[kind] = counts.get(kind, 0) + 1

    def pace(self, key: str, per_second: float, burst: float) -> float:
        """Count one request against a shared rate; 0 if allowed, else seconds to wait."""
        # GCRA, the token bucket as one timestamp per key, so one conditional UPDATE
        # decides atomically however many workers or hosts share the database.
        step, window, key = 1.0 / per_second, burst / per_second, key[:255]
        due = pacing_table.c.due
        for _ in range(5):
            now = time.time()
            start = case((due > now, due), else_=now)
            try:
                with self.engine.begin() as conn:
                    taken = conn.execute(
                        pacing_table.update()
                        .where(pacing_table.c.key == key, start + step - now <= window)
                        .values(due=start + step)
                    ).rowcount
                    if taken:
                        return 0.0
                    found = conn.execute(select(due).where(pacing_table.c.key == key)).scalar()
                    if found is not None:
                        return max(found + step - now - window, 0.001)
                    conn.execute(pacing_table.insert().values(key=key, due=now + step))
                    return 0.0
            except IntegrityError:
                continue  # a first request of the same key landed; count against its row
            except SQLAlchemyError as exc:
                raise StoreError.of("could not count the request", exc) from exc
        raise StoreError("could not count the request: too much contention")

    def thread(self, key: str) -> str | None:
        """The conversation that the transcript digested as ``key`` continues, if known
        and not ambiguous."""
        try:
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(threads_table.c.conversation_id).where(threads_table.c.key == key)
                ).scalar()
        except SQLAlchemyError as exc:
            raise StoreError.of("could not read the chat thread", exc) from exc
        return str(found) if found else None

    def remember_thread(self, key: str, conversation_id: str) -> None:
        """Record that the transcript digested as ``key`` continues ``conversation_id``.

        Two conversations can reach one transcript (two people behind one key ask the same
        first question and get the same answer). Such a key is kept as ambiguous (""), so
        that neither person's next message joins the other's conversation: it starts anew.
        """
        where = threads_table.c.key == key
        self._threads_recorded += 1
        if self._threads_recorded % PRUNE_EVERY == 1:  # now and then, not on every reply
            self._prune_threads()
        for _ in range(2):  # a second pass when another worker inserted the key meanwhile
            try:
                with self.engine.begin() as conn:
                    found = conn.execute(select(threads_table.c.conversation_id).where(where))
                    known = found.scalar()
                    if known is None:
                        row = {"key": key, "conversation_id": conversation_id}
                        conn.execute(threads_table.insert().values(**row, created=time.time()))
                    elif known not in (conversation_id, ""):
                        conn.execute(threads_table.update().where(where).values(conversation_id=""))
                return
            except IntegrityError:
                continue
            except SQLAlchemyError as exc:
                raise StoreError.of("could not record the chat thread", exc) from exc

    def _prune_threads(self) -> None:
        """Forget transcripts older than ``THREAD_DAYS``: chats are rarely resumed later."""
        old = threads_table.c.created < time.time() - THREAD_DAYS * 86400
        try:
            with self.engine.begin() as conn:
                conn.execute(threads_table.delete().where(old))
        except SQLAlchemyError as exc:  # best effort: the table only grows meanwhile
            log.warning("could not prune the chat threads: %s", StoreError.of("prune", exc))

    def close(self) -> None:
        """Release pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
