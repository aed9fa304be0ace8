"""``Advisor``: the one public face of the core. It loads each part on first use and
hands questions to the ask pipeline (``advisor.ask.pipeline``) and plans to the reviewer
(``advisor.review``); conversations live in the store (``advisor.memory``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from advisor.ask.compose import GENERATORS, Generator
from advisor.ask.grounding import SupportChecker
from advisor.ask.guard import Guard
from advisor.ask.llm import make_chat_model
from advisor.ask.pipeline import AskPipeline
from advisor.ask.qtypes import QuestionTyper
from advisor.ask.retrieval import HybridSearcher
from advisor.ask.state import AskState, Focus
from advisor.ask.writer import LLMWriter
from advisor.config import Settings, get_settings
from advisor.contract import Answer, Feedback, Review, SourceInfo, StreamEvent, Turn
from advisor.errors import (
    ConfigError,
    ConversationNotFoundError,
    DocumentNotFoundError,
    TurnNotFoundError,
)
from advisor.inputs import check_conversation_id, clean_feedback, clean_plan, clean_question
from advisor.knowledge.embeddings import Embedder, VectorCache, make_embedder
from advisor.knowledge.sentences import SentenceStore, store_dir
from advisor.knowledge.snapshot import IndexSnapshot, ServingIndex, read_current
from advisor.memory import ConversationStore, make_store
from advisor.patterns import PATTERNS, REGISTRY
from advisor.prompts import Prompts
from advisor.quoting import curated
from advisor.review.classifier import SentenceClassifier, model_path
from advisor.review.classifier import for_data as sentence_classifier
from advisor.review.detect import FLAW_FLOOR
from advisor.review.reviewer import PlanReviewer, render_review
from advisor.review.validation import cross_validate, leave_one_author_out

if TYPE_CHECKING:  # LangChain's chat-model stack: about 0.8 s to import, for LLMs only
    from langchain_core.language_models import BaseChatModel

REVIEW_QUESTION = "Review this CRM plan:\n"


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
        self._index: ServingIndex | None = None
        self._searcher: HybridSearcher | None = None
        self._saved: set[str] = set()  # texts whose vectors the data folder holds
        self._lock = threading.Lock()
        self._reviewer: PlanReviewer | None = None
        self.pipeline = AskPipeline(self)

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
        """The searcher over the serving index, rebuilt after a new ingest switches it."""
        embedder = self.embedder
        with self._lock:
            if self._index is None:
                self._index = ServingIndex(self.settings, embedder)
                # The quotable sentences' vectors that ingest stored: read, not embedded.
                store = SentenceStore(store_dir(self.settings.data_dir, embedder.name))
                cache = VectorCache.shared(embedder)
                cache.attach(store)
                # Fixed texts an earlier warm-up embedded: a one-shot process reads, not embeds.
                self._saved = cache.load(cache.file(self.settings.data_dir))
        snapshot = self._index.snapshot()
        with self._lock:
            if self._searcher is None or self._searcher.snapshot is not snapshot:
                self._searcher = HybridSearcher(snapshot, embedder, self.settings)
            return self._searcher

    @property
    def reviewer(self) -> PlanReviewer:
        """The plan reviewer over the serving index, rebuilt when the index switches."""
        searcher, embedder = self.searcher, self.embedder
        reviewer = self._reviewer
        if reviewer is not None and reviewer.snapshot is searcher.snapshot:
            return reviewer
        classifier = self._classifier()  # outside the lock: it may take the embedder's
        with self._lock:
            if self._reviewer is None or self._reviewer.snapshot is not searcher.snapshot:
                self._reviewer = PlanReviewer(searcher.snapshot, embedder, classifier)
            return self._reviewer

    @property
    def question_typer(self) -> QuestionTyper:
        """The question-type reader (loaded, or trained and saved, on first use)."""
        return QuestionTyper.for_settings(self.embedder, self.settings)

    def _classifier(self) -> SentenceClassifier:
        """The plan-sentence classifier (trained on first use when its model is missing)."""
        s = self.settings
        return sentence_classifier(s.models_dir, s.review_training_dir, self.embedder, [*PATTERNS])

    @property
    def loaded(self) -> bool:
        """True once the model, index and generator are in memory."""
        return self._searcher is not None and self._generator is not None

    @property
    def snapshot(self) -> IndexSnapshot | None:
        """The loaded index snapshot, if any; nothing is loaded or reloaded."""
        return self._index.loaded if self._index else None

    @property
    def generation(self) -> str | None:
        """The loaded index generation, if any."""
        return self.snapshot.generation if self.snapshot else None

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
        """Generator, turns by outcome, embedder passes and texts, and the LLM's counters."""
        writer, embedder = self.writer, self._embedder
        base = {
            "generator": self.generator.name,
            "answers": self.pipeline.outcomes.snapshot(),
            "embedder": {k: getattr(embedder, k, 0) for k in ("passes", "texts")},
        }
        if writer is None:
            return {**base, "llm": None}
        return {
            **base,
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

    def warm(self, *, full: bool = True) -> None:
        """Load the model, index, generator and, if ``full``, the reviewer and an in-process
        LLM now; save the fixed texts' vectors under the data folder for later processes."""
        searcher, generator = self.searcher, self.generator
        cache = VectorCache.shared(self.embedder)
        # One search loads Chroma's vector segment and runs the model once, so the first
        # questions do not queue behind that load.
        searcher.search("How should a CRM project be phased?")
        texts: list[str] = []
        prepare = getattr(generator, "warm", None)
        if prepare is not None:
            texts += prepare(curated(searcher.snapshot.passages)) or []
        texts += self.reviewer.warm() if full else []
        # An answer entry leads only questions of its own form, read from its title per
        # question: read every title now, so no question pays for it.
        titles = [
            str(p.meta.get("title", ""))
            for p in searcher.snapshot.passages
            if p.meta.get("kind") == "answer"
        ]
        self.question_typer.classify_many(titles)
        texts += self.question_typer.embedded(titles)
        texts = cache.unstored(texts + searcher.entries.questions)  # the store has the rest
        if (set(texts) != self._saved) if full else not set(texts) <= self._saved:
            cache.save(cache.file(self.settings.data_dir), texts)
            self._saved = set(texts)
        writer = self.writer if full else None
        load = getattr(writer.chat, "warm", None) if writer else None
        if load is not None:
            load()  # an in-process model loads now, not on the first question

    def focus(self, question: str, review: Review, qtype: str = "") -> Focus | None:
        """The finding of ``review`` that a follow-up question is about, if any."""
        finding = self.reviewer.focus(question, review, qtype)
        if finding is None:
            return None
        spec = REGISTRY[finding.pattern]
        return Focus(
            finding,
            f"{finding.title}: {spec.description}",
            f"what to do instead of {spec.description}: {spec.strength}",
        )

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
        state = AskState(text, cid, history, review, mode, started)
        return self.pipeline.run(state)

    def _conversation(self, conversation_id: str | None, start: bool) -> str:
        """The id to store a turn under: a new one, or a checked existing (or startable) one."""
        if conversation_id is None:
            return uuid.uuid4().hex
        cid = check_conversation_id(conversation_id)
        # A stale or mistyped id must not quietly begin a fresh conversation without context.
        if not start and not self.store.exists(cid):
            raise ConversationNotFoundError(
                f"no conversation {cid!r}; leave out the conversation id to start a new one"
            )
        return cid

    def _recent_review(self, cid: str, history: list[Turn]) -> Review | None:
        """The latest plan review among the recent turns, which follow-ups are read against."""
        if not history or not any(t.answer.generator == "plan-review" for t in history):
            return None
        reviews = self.store.reviews(cid)
        recent = [t.turn for t in history if t.turn in reviews]
        return reviews[recent[-1]] if recent else None

    def review_model(self) -> str:
        """Load the plan-review classifier, training it if its saved model is missing or
        stale; return the model file's name. Raises ConfigError on bad training data."""
        s = self.settings
        self._classifier()
        return model_path(s.models_dir, s.review_training_dir, self.embedder).name

    def cross_validate_review(self, folds: int = 5) -> dict[str, list[list[int]]]:
        """Per-pattern 3 x 3 sentence confusion (true x predicted, in the order neutral,
        shows_flaw, guards_against) from k-fold cross-validation on the training data."""
        s = self.settings
        return cross_validate(s.review_training_dir, self.embedder, [*PATTERNS], folds)

    def validate_review_by_author(self) -> dict[str, dict[str, int]]:
        """Plan-level counts (``plans``, ``found``, ``false``, ``missed``) per training file
        that labels whole plans, each read by a model trained without it, at the detector's
        red-flag floor (``advisor.review.validation.leave_one_author_out``)."""
        s = self.settings
        patterns = [*PATTERNS]
        return leave_one_author_out(s.review_training_dir, self.embedder, patterns, FLAW_FLOOR)

    def sources(self) -> list[SourceInfo]:
        """The corpus documents in the serving index, with metadata and passage counts."""
        docs = read_current(self.settings)[1].get("docs", {})
        ordered = sorted(docs.items(), key=lambda kv: (kv[1]["kind"], kv[0]))
        return [SourceInfo.of_manifest(doc_id, meta) for doc_id, meta in ordered]

    def document(self, doc_id: str) -> str:
        """A served document's indexed text: its passages in order, blank-line separated.

        Raises DocumentNotFoundError for an id the serving index does not hold, and
        IndexNotReadyError when there is no index.
        """
        snapshot = self.searcher.snapshot
        if doc_id not in snapshot.by_doc:
            raise DocumentNotFoundError(f"no document {doc_id[:80]!r} in the index")
        return "\n\n".join(snapshot.passages[i].text for i in snapshot.by_doc[doc_id])

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
        rating, comment = clean_feedback(rating, comment)
        turns = {t.turn for t in self.store.turns(cid)}
        if not turns:
            raise ConversationNotFoundError(f"no conversation {conversation_id!r}")
        if turn not in turns:
            raise TurnNotFoundError(f"conversation {conversation_id!r} has no turn {turn}")
        return self.store.set_feedback(
            Feedback(conversation_id=cid, turn=turn, rating=rating, comment=comment)
        )
