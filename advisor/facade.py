"""The chain that ties the parts together, and ``Advisor``, the one public face of the core."""

from __future__ import annotations

import hashlib
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableLambda

from advisor.answers import citation, extractive_answer, written_answer
from advisor.compose import (
    ExtractiveComposer,
    Generator,
)
from advisor.config import Settings, get_settings
from advisor.errors import (
    ConfigError,
    ConversationNotFoundError,
    InvalidInputError,
    TurnNotFoundError,
)
from advisor.grounding import SupportChecker
from advisor.guard import Guard
from advisor.index import (
    Embedder,
    IndexSnapshot,
    VectorCache,
    make_embedder,
    serving_generation,
)
from advisor.llm import make_chat_model
from advisor.memory import ConversationStore, check_conversation_id, make_store
from advisor.models import (
    Answer,
    Feedback,
    Review,
    SourceInfo,
    StreamEvent,
    Turn,
)
from advisor.plan import clean_plan
from advisor.prompts import Prompts
from advisor.questions import clean_question, condense, is_follow_up
from advisor.retrieval import HybridSearcher, Retrieval, strip_injection
from advisor.review import DESCRIPTIONS, PlanReviewer, render_review
from advisor.text import printable
from advisor.writer import LLMWriter, Written

MAX_COMMENT_CHARS = 2000
REVIEW_QUESTION = "Review this CRM plan:\n"
_PIECE = re.compile(r"[^\n]*\n|[^\n]+")  # the answer's lines, newlines kept
GENERATORS: dict[str, Callable[[Embedder, Settings], Generator]] = {
    "extractive": lambda embedder, settings: ExtractiveComposer(embedder, settings),
}
"""Offline answer generators by name; LLM backends are ``advisor.llm.CHAT_MODELS``."""


class Advisor:
    """Ask questions of the CRM corpus, list its sources, read conversations."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        store: ConversationStore | None = None,
        chat: BaseChatModel | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._embedder = embedder
        self._generator = generator
        self._store = store
        self._chat = chat
        self._writer: LLMWriter | None = None
        self._snapshot: IndexSnapshot | None = None
        self._searcher: HybridSearcher | None = None
        self._lock = threading.Lock()
        self._chain: Runnable[dict[str, Any], dict[str, Any]] | None = None
        self._reviewer: PlanReviewer | None = None

    # -- lazy parts --------------------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedding model, loaded on first use."""
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def store(self) -> ConversationStore:
        """The conversation store, opened on first use."""
        with self._lock:
            if self._store is None:
                self._store = make_store(self.settings)
            return self._store

    @property
    def searcher(self) -> HybridSearcher:
        """The searcher over the serving index, reloaded after a new ingest switches it."""
        embedder = self.embedder
        with self._lock:
            if self._searcher is None or self._index_switched():
                # The old snapshot is left for in-flight requests; its files outlive it.
                self._snapshot = IndexSnapshot(self.settings, embedder)
                self._searcher = HybridSearcher(self._snapshot, embedder, self.settings)
            return self._searcher

    def _index_switched(self) -> bool:
        """True when the index now names a different generation than the one loaded."""
        name = serving_generation(self.settings)
        return self._snapshot is not None and name is not None and name != self._snapshot.generation

    @property
    def reviewer(self) -> PlanReviewer:
        """The plan reviewer over the serving index, rebuilt when the index switches."""
        searcher, embedder = self.searcher, self.embedder
        with self._lock:
            if self._reviewer is None or self._reviewer.snapshot is not searcher.snapshot:
                self._reviewer = PlanReviewer(searcher.snapshot, embedder)
            return self._reviewer

    @property
    def loaded(self) -> bool:
        """True once the model, index and generator are in memory."""
        return self._searcher is not None and self._generator is not None

    @property
    def generation(self) -> str | None:
        """The loaded index generation, if any."""
        return self._snapshot.generation if self._snapshot else None

    @property
    def generator(self) -> Generator:
        """The answer generator named by the settings."""
        embedder = self.embedder
        with self._lock:
            if self._generator is None:
                try:
                    factory = GENERATORS[self.settings.generator]
                except KeyError:
                    raise ConfigError(
                        f"unknown generator {self.settings.generator!r}; "
                        f"known: {', '.join(GENERATORS)}"
                    ) from None
                self._generator = factory(embedder, self.settings)
            return self._generator

    @property
    def writer(self) -> LLMWriter | None:
        """The LLM writer named by ``ADVISOR_LLM`` (or given as ``chat``); None without one."""
        if self._writer is None:
            chat = self._chat or make_chat_model(self.settings)
            if chat is None:
                return None
            s = self.settings
            checker = SupportChecker(self.embedder, threshold=s.guard_threshold)
            guard = Guard(checker, s.guard, s.guard_min_supported)
            with self._lock:
                if self._writer is None:
                    self._writer = LLMWriter(chat, guard, Prompts(s.prompts_dir), s)
        return self._writer

    def stats(self) -> dict[str, Any]:
        """Which generator answers, and the LLM's counters (requests, fallbacks, guard)."""
        writer = self.writer
        if writer is None:
            return {"generator": self.generator.name, "llm": None}
        return {
            "generator": self.generator.name,
            "llm": writer.name,
            "guard": self.settings.guard,
            "cooling_down_s": round(writer.cooling_down(), 1),
            **writer.stats.snapshot(),
        }

    def close(self) -> None:
        """Release the store's connections (the index stays: Chroma shares it per process)."""
        close = getattr(self._store, "close", None)
        if close is not None:
            close()

    def warm(self) -> None:
        """Load the model and index (and let the generator prepare) before the first question."""
        # Sentence vectors saved by an earlier process make the warm-up a file read.
        cache = VectorCache.shared(self.embedder)
        digest = hashlib.sha1(self.embedder.name.encode()).hexdigest()[:16]
        saved_at = self.settings.data_dir / "cache" / f"vectors-{digest}.npz"
        saved = cache.load(saved_at)
        searcher, generator = self.searcher, self.generator
        # One search loads Chroma's vector segment and runs the model once, so the first
        # questions do not queue behind that load.
        searcher.search("How should a CRM project be phased?")
        texts: list[str] = []
        prepare = getattr(generator, "warm", None)
        if prepare is not None:
            texts += prepare([p.text for p in searcher.snapshot.passages]) or []
        texts += self.reviewer.warm()
        if not set(texts) <= saved:
            cache.save(saved_at, texts)
        writer = self.writer
        load = getattr(writer.chat, "warm", None) if writer else None
        if load is not None:
            load()  # an in-process model loads now, not on the first question

    # -- the chain ---------------------------------------------------------------------
    @property
    def chain(self) -> Runnable[dict[str, Any], dict[str, Any]]:
        """condense | retrieve, as LangChain Runnables over a state dict; writing follows."""
        if self._chain is None:
            self._chain = RunnableLambda(self._condense_step, name="condense") | RunnableLambda(
                self._retrieve_step, name="retrieve"
            )
        return self._chain

    def _condense_step(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        review: Review | None = state.get("review")
        focus = self.reviewer.focus(state["question"], review) if review else None
        if focus is not None:
            # A follow-up on a plan review is about one of its findings: search for that.
            about = f"{focus.title}: {DESCRIPTIONS.get(focus.pattern, '')}"
            standalone = f"{state['question']} (about: {about})"
        else:
            standalone = self._condense(state["question"], state["history"])
        return {
            **state,
            "standalone": standalone,
            "focus": focus,
            "t_condense": time.perf_counter() - t,
        }

    def _retrieve_step(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        retrieval = self.searcher.search(state["standalone"], mode=state.get("mode", "hybrid"))
        return {**state, "retrieval": retrieval, "t_retrieve": time.perf_counter() - t}

    def _condense(self, question: str, history: list[Turn]) -> str:
        writer = self.writer
        if writer and self.settings.llm_condense and history and is_follow_up(question):
            rewrite = writer.condense(question, history)
            if rewrite:
                return rewrite
        return condense(question, history)

    def _compose(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        retrieval: Retrieval = state["retrieval"]
        composition = None
        if retrieval.passed_gate:
            query, _ = strip_injection(state["standalone"])
            composition = self.generator.compose(query, retrieval)
        return {**state, "composition": composition, "t_compose": time.perf_counter() - t}

    # -- public API --------------------------------------------------------------------
    def ask(
        self,
        question: str,
        conversation_id: str | None = None,
        *,
        mode: str = "hybrid",
        start: bool = False,
    ) -> Answer:
        """Answer a question from the corpus, citing every sentence; remember the turn."""
        *_, last = self.stream(question, conversation_id, mode=mode, start=start)
        assert last.answer is not None
        return last.answer

    def stream(
        self,
        question: str,
        conversation_id: str | None = None,
        *,
        mode: str = "hybrid",
        start: bool = False,
    ) -> Iterator[StreamEvent]:
        """Answer as events: the citations, pieces of the text, then the stored Answer.

        A ``conversation_id`` must name an existing conversation unless ``start`` lets the
        caller name a new one (a Slack thread). Bad input, an unknown conversation and
        retrieval failures raise here, before the first event.
        """
        started = time.perf_counter()
        text = clean_question(question)
        cid = self._conversation(conversation_id, start)
        history = self.store.turns(cid, last=self.settings.history_turns) if conversation_id else []
        review = self._recent_review(cid, history)
        _ = self.writer  # a misconfigured LLM backend is reported now, not mid-stream
        state = self.chain.invoke(
            {"question": text, "history": history, "mode": mode, "review": review}
        )
        return self._events(text, state, cid, started)

    def _conversation(self, conversation_id: str | None, start: bool) -> str:
        """The id to store a turn under: a new one, or a checked existing (or startable) one."""
        if not conversation_id:
            return uuid.uuid4().hex
        cid = check_conversation_id(conversation_id)
        # A stale or mistyped id must not quietly begin a fresh conversation without context.
        if not start and not self.store.exists(cid):
            raise ConversationNotFoundError(
                f"no conversation {cid!r}; omit conversation_id to start a new one"
            )
        return cid

    def _recent_review(self, cid: str, history: list[Turn]) -> Review | None:
        """The latest plan review among the recent turns, which follow-ups are read against."""
        if not history or not any(t.answer.generator == "plan-review" for t in history):
            return None
        reviews = self.store.reviews(cid)
        recent = [t.turn for t in history if t.turn in reviews]
        return reviews[recent[-1]] if recent else None

    def _events(
        self, question: str, state: dict[str, Any], cid: str, started: float
    ) -> Iterator[StreamEvent]:
        retrieval: Retrieval = state["retrieval"]
        query, _ = strip_injection(state["standalone"])
        writer = self.writer
        written: Written | None = None
        if writer is not None and retrieval.passed_gate and query:
            hits = retrieval.hits
            consulted = [citation(n, hit) for n, hit in enumerate(hits, start=1)]
            yield StreamEvent(kind="citations", citations=consulted)
            for event in writer.write(query, retrieval):
                if event.kind == "done":
                    written = event.written
                else:
                    yield StreamEvent(kind=event.kind, text=event.text)
        if writer is not None and written is not None and written.text:
            answer = written_answer(state, cid, written, writer.name)
            answer.timings.update(write=written.seconds)
        else:
            state = self._compose(state)
            answer = extractive_answer(state, cid, self.generator.name)
            answer.timings.update(compose=state["t_compose"])
            if written is not None:
                answer.guard, answer.fallback = written.guard, written.fallback
                answer.timings.update(write=written.seconds)
            yield StreamEvent(kind="citations", citations=answer.citations)
            for piece in _PIECE.findall(answer.answer):
                yield StreamEvent(kind="delta", text=piece)
        answer.timings.update(condense=state["t_condense"], retrieve=state["t_retrieve"])
        # Stored last, so a turn exists only once its whole answer has been given.
        answer.turn = self.store.append(answer.conversation_id, question, answer)
        answer.timings["total"] = time.perf_counter() - started
        yield StreamEvent(kind="answer", answer=answer)

    def sources(self) -> list[SourceInfo]:
        """The corpus documents in the serving index, with metadata and passage counts."""
        from advisor.index import read_current

        _, _, manifest = read_current(self.settings)
        out = []
        for doc_id, meta in sorted(
            manifest.get("docs", {}).items(), key=lambda kv: (kv[1]["kind"], kv[0])
        ):
            out.append(
                SourceInfo(
                    doc_id=doc_id,
                    title=meta["title"],
                    kind=meta["kind"],
                    passages=int(meta.get("passages", 0)),
                    author=meta.get("author"),
                    publication=meta.get("publication"),
                    date=str(meta["date"]) if meta.get("date") else None,
                    pattern=meta.get("pattern"),
                    path=meta.get("path", ""),
                )
            )
        return out

    def conversation(self, conversation_id: str) -> list[Turn]:
        """Every turn of a conversation with its feedback, or ConversationNotFoundError."""
        turns = self.store.turns(check_conversation_id(conversation_id))
        if not turns:
            raise ConversationNotFoundError(f"no conversation {conversation_id!r}")
        ratings = {f.turn: f for f in self.store.feedback(conversation_id)}
        reviews = self.store.reviews(conversation_id)
        return [
            t.model_copy(update={"feedback": ratings.get(t.turn), "review": reviews.get(t.turn)})
            for t in turns
        ]

    def review(
        self, plan: str, conversation_id: str | None = None, *, start: bool = False
    ) -> Review:
        """Review a pasted CRM plan against the failure patterns; follow-ups can discuss it."""
        started = time.perf_counter()
        text = clean_plan(plan)
        cid = self._conversation(conversation_id, start)
        review = self.reviewer.review(text, cid)
        writer = self.writer
        narrated = writer.narrate(review) if writer else None
        if writer and narrated:
            review.narrative, review.narrative_guard = narrated
            review.narrative_by = writer.name
            review.text = render_review(review)
        review.turn = self.store.append_review(cid, REVIEW_QUESTION + text, review)
        review.timings = {"total": time.perf_counter() - started}
        return review

    def share_review(self, conversation_id: str, turn: int, into: str) -> Review:
        """Copy a review turn into another conversation (a Slack thread), for follow-ups there."""
        source = next(
            (t for t in self.conversation(conversation_id) if t.turn == turn and t.review), None
        )
        if source is None or source.review is None:
            raise TurnNotFoundError(
                f"conversation {conversation_id!r} has no review at turn {turn}"
            )
        cid = check_conversation_id(into)
        review = source.review.model_copy(update={"conversation_id": cid})
        review.turn = self.store.append_review(cid, source.question, review)
        return review

    def feedback(
        self, conversation_id: str, turn: int, rating: str, comment: str | None = None
    ) -> Feedback:
        """Rate one answer up or down, with an optional comment; a new rating replaces the old."""
        cid = check_conversation_id(conversation_id)
        if rating not in ("up", "down"):
            raise InvalidInputError("rating must be 'up' or 'down'")
        if comment is not None:
            comment = printable(comment, "comment").strip() or None
            if comment and len(comment) > MAX_COMMENT_CHARS:
                raise InvalidInputError(f"the comment is over {MAX_COMMENT_CHARS} characters")
        turns = {t.turn for t in self.store.turns(cid)}
        if not turns:
            raise ConversationNotFoundError(f"no conversation {conversation_id!r}")
        if turn not in turns:
            raise TurnNotFoundError(f"conversation {conversation_id!r} has no turn {turn}")
        return self.store.set_feedback(
            Feedback(conversation_id=cid, turn=turn, rating=rating, comment=comment)
        )
