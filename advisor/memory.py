"""The conversation store: durable turns per conversation id, through SQLAlchemy."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from advisor.config import Settings
from advisor.contract import Answer, ConversationSummary, Feedback, Review, Turn
from advisor.errors import ConfigError, StoreError

_PG_TURN_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended(:cid, 0))")

metadata = MetaData()
turns_table = Table(
    "turns",
    metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("turn", Integer, primary_key=True),
    Column("question", Text, nullable=False),
    Column("standalone_question", Text, nullable=False),
    Column("answer_json", Text, nullable=False),
    Column("created", Float, nullable=False),
)
feedback_table = Table(
    "feedback",
    metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("turn", Integer, primary_key=True),
    Column("rating", String(8), nullable=False),
    Column("comment", Text, nullable=True),
    Column("created", Float, nullable=False),
)
reviews_table = Table(
    "reviews",
    metadata,
    Column("conversation_id", String(128), primary_key=True),
    Column("turn", Integer, primary_key=True),
    Column("review_json", Text, nullable=False),
)


class ConversationStore(Protocol):
    """What the advisor needs of a conversation store."""

    def append(self, conversation_id: str, question: str, answer: Answer) -> int: ...

    def turns(self, conversation_id: str, last: int | None = None) -> list[Turn]: ...

    def exists(self, conversation_id: str) -> bool: ...

    def set_feedback(self, feedback: Feedback) -> Feedback: ...

    def feedback(self, conversation_id: str) -> list[Feedback]: ...

    def append_review(self, conversation_id: str, question: str, review: Review) -> int: ...

    def reviews(self, conversation_id: str) -> dict[int, Review]: ...

    def recent(self, prefix: str, limit: int = 5) -> list[ConversationSummary]: ...


class SQLConversationStore:
    """Turns in any SQLAlchemy database: SQLite by default, a server URL works too."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = open_database(url, metadata)

    def append(
        self, conversation_id: str, question: str, answer: Answer, review: Review | None = None
    ) -> int:
        """Store a turn (and the review it gives, if any); return its number (1-based)."""
        for _ in range(20):
            try:
                with self.engine.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        # Writers of one conversation queue here instead of colliding on a
                        # turn number: under contention, retries alone starve on PostgreSQL.
                        conn.execute(_PG_TURN_LOCK, {"cid": conversation_id})
                    last = conn.execute(
                        select(func.max(turns_table.c.turn)).where(
                            turns_table.c.conversation_id == conversation_id
                        )
                    ).scalar()
                    turn = (last or 0) + 1
                    conn.execute(
                        turns_table.insert().values(
                            conversation_id=conversation_id,
                            turn=turn,
                            question=question,
                            standalone_question=answer.standalone_question,
                            answer_json=answer.model_copy(update={"turn": turn}).model_dump_json(),
                            created=time.time(),
                        )
                    )
                    if review is not None:
                        conn.execute(
                            reviews_table.insert().values(
                                conversation_id=conversation_id,
                                turn=turn,
                                review_json=review.model_copy(
                                    update={"turn": turn}
                                ).model_dump_json(),
                            )
                        )
                return turn
            except IntegrityError:
                continue  # another writer took this turn number; take the next
            except SQLAlchemyError as exc:
                raise StoreError.of("could not save the conversation turn", exc) from exc
        raise StoreError("could not save the conversation turn: too much contention")

    def turns(self, conversation_id: str, last: int | None = None) -> list[Turn]:
        """The conversation's turns in order (only the last ``last`` if given)."""
        query = select(turns_table).where(turns_table.c.conversation_id == conversation_id)
        query = query.order_by(turns_table.c.turn.desc())
        if last is not None:
            query = query.limit(last)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise StoreError.of("could not read the conversation", exc) from exc
        return [
            Turn(
                turn=r.turn,
                question=r.question,
                standalone_question=r.standalone_question,
                answer=Answer.model_validate_json(r.answer_json),
                created=r.created,
            )
            for r in reversed(rows)
        ]

    def exists(self, conversation_id: str) -> bool:
        """True if the conversation has at least one turn."""
        return bool(self.turns(conversation_id, last=1))

    def set_feedback(self, feedback: Feedback) -> Feedback:
        """Store a rating of one turn, replacing an earlier rating of the same turn."""
        stored = feedback.model_copy(update={"created": time.time()})
        values = stored.model_dump(exclude={"conversation_id", "turn"})
        key = (feedback_table.c.conversation_id == feedback.conversation_id) & (
            feedback_table.c.turn == feedback.turn
        )
        for _ in range(20):
            try:
                with self.engine.begin() as conn:
                    if conn.execute(feedback_table.update().where(key).values(**values)).rowcount:
                        return stored
                    conn.execute(feedback_table.insert().values(**stored.model_dump()))
                return stored
            except IntegrityError:
                continue  # a concurrent first rating landed; the update path takes over
            except SQLAlchemyError as exc:
                raise StoreError.of("could not save the feedback", exc) from exc
        raise StoreError("could not save the feedback: too much contention")

    def feedback(self, conversation_id: str) -> list[Feedback]:
        """Every rating in a conversation, by turn."""
        query = (
            select(feedback_table)
            .where(feedback_table.c.conversation_id == conversation_id)
            .order_by(feedback_table.c.turn)
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise StoreError.of("could not read the feedback", exc) from exc
        return [Feedback.model_validate(r._asdict()) for r in rows]

    def append_review(self, conversation_id: str, question: str, review: Review) -> int:
        """Store a plan review as a turn (its text as the answer) and the review beside it."""
        answer = Answer(
            answer=review.text,
            answered=True,
            conversation_id=conversation_id,
            citations=review.citations,
            standalone_question="Review of a CRM plan",
            generator="plan-review",
        )
        return self.append(conversation_id, question, answer, review)

    def reviews(self, conversation_id: str) -> dict[int, Review]:
        """The plan reviews given in a conversation, by turn."""
        query = select(reviews_table).where(reviews_table.c.conversation_id == conversation_id)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
        except SQLAlchemyError as exc:
            raise StoreError.of("could not read the plan reviews", exc) from exc
        return {r.turn: Review.model_validate_json(r.review_json) for r in rows}

    def recent(self, prefix: str, limit: int = 5) -> list[ConversationSummary]:
        """The ``limit`` conversations whose id starts with ``prefix``, newest first.

        A front door keys its conversations by place (Slack: ``slack:team:channel:``), so a
        prefix lists one place's conversations, such as a manager's DM with the app.
        """
        c = turns_table.c
        latest = (
            select(c.conversation_id, func.max(c.created).label("updated"), func.count().label("n"))
            .where(c.conversation_id.startswith(prefix, autoescape=True))
            .group_by(c.conversation_id)
            .order_by(func.max(c.created).desc())
            .limit(limit)
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(latest).all()
                ids = [r.conversation_id for r in rows]
                first = dict(
                    conn.execute(
                        select(c.conversation_id, c.question).where(
                            c.conversation_id.in_(ids), c.turn == 1
                        )
                    ).all()
                )
        except SQLAlchemyError as exc:
            raise StoreError.of("could not list the conversations", exc) from exc
        return [
            ConversationSummary(
                conversation_id=r.conversation_id,
                title=str(first.get(r.conversation_id, "")),
                turns=r.n,
                updated=r.updated,
            )
            for r in rows
        ]

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()


def open_database(url: str, tables: MetaData) -> Engine:
    """A SQLAlchemy engine on ``url`` with ``tables`` created; StoreError if it cannot open.

    SQLite gets WAL (readers do not block the writer) and a busy timeout, so that the API,
    Slack and the CLI can share one file. Front doors open their own tables this way on the
    same URL (``ADVISOR_DATABASE_URL``).
    """
    try:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        _create_tables(engine, tables)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError.of("cannot open the conversation store", exc) from exc
    return engine


_SCHEMA_LOCK = 0x43524D41  # any fixed key; "CRMA"


def _create_tables(engine: Engine, tables: MetaData) -> None:
    """Create the missing tables, one opener at a time.

    Workers that start together on a fresh database all see "no such table" and all issue
    CREATE TABLE; every one but the first then fails ("already exists", or a unique
    violation in PostgreSQL's pg_type). So the check and the create run under a lock held
    to commit: a transaction-scoped advisory lock on PostgreSQL, the write lock taken by
    BEGIN IMMEDIATE on SQLite (whose driver would otherwise run DDL outside a transaction).
    """
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
        elif engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        tables.create_all(conn)
        conn.commit()


_WAL_TRIES = 100  # 5 s of 50 ms waits


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=10000")
    # WAL (readers do not block the writer) is kept in the file, so only the first opener
    # switches. The switch needs an exclusive lock and SQLite answers "locked" at once
    # instead of waiting, so an opener that meets another one mid-switch tries again.
    for attempt in range(_WAL_TRIES):
        try:
            if cur.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError:
            if attempt == _WAL_TRIES - 1:
                raise
            time.sleep(0.05)
    cur.close()


STORES: dict[str, Callable[[Settings], ConversationStore]] = {
    "sql": lambda s: SQLConversationStore(s.resolved_database_url),
}
"""Conversation-store backends by name."""


def make_store(settings: Settings, name: str = "sql") -> ConversationStore:
    """Build the named conversation store."""
    if name not in STORES:
        raise ConfigError(f"unknown store {name!r}; known: {', '.join(STORES)}")
    return STORES[name](settings)
