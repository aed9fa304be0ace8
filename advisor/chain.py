"""The chain that ties the parts together, and ``Advisor``, the one public face of the core."""

from __future__ import annotations

import re
import threading
import time
import unicodedata
import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from advisor.compose import (
    INSTRUCTION_REFUSAL,
    REFUSAL,
    ExtractiveComposer,
    Generator,
    render,
)
from advisor.config import Settings, get_settings
from advisor.errors import ConfigError, ConversationNotFoundError, InvalidInputError
from advisor.index import Embedder, IndexSnapshot, make_embedder
from advisor.memory import ConversationStore, check_conversation_id, make_store
from advisor.models import Answer, Citation, SourceInfo, Turn
from advisor.retrieval import HybridSearcher, Retrieval, strip_injection
from advisor.text import STOPWORDS, content_terms, tokens

MAX_QUESTION_CHARS = 4000
_ANAPHOR = re.compile(
    r"(?i)\b(that|this|it|its|they|them|their|those|these|he|she|him|her|there|such|"
    r"the same|the former|the latter)\b"
)
_CONTINUATION = re.compile(r"(?i)^\s*(and|or|but|so|also|what about|how about|then|why not)\b")
_QUESTION_WORDS = frozenset("what why how who whom which when where does do is are can".split())

GENERATORS: dict[str, Callable[[Embedder, Settings], Generator]] = {
    "extractive": lambda embedder, settings: ExtractiveComposer(embedder, settings),
}
"""Answer generators by name; the LLM backends register here the same way."""


def clean_question(question: Any) -> str:
    """Validate and normalise a question, or raise InvalidInputError."""
    if not isinstance(question, str):
        raise InvalidInputError("the question must be a string")
    if "\x00" in question:
        raise InvalidInputError("the question contains a NUL byte")
    text = "".join(
        ch for ch in question if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf")
    )
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise InvalidInputError("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise InvalidInputError(
            f"the question is {len(text)} characters; the limit is {MAX_QUESTION_CHARS}"
        )
    return text


def is_follow_up(question: str) -> bool:
    """True when a question leans on earlier turns (pronouns, 'what about', few words)."""
    return bool(
        _ANAPHOR.search(question)
        or _CONTINUATION.match(question)
        or len(content_terms(question)) <= 2
    )


def condense(question: str, history: list[Turn]) -> str:
    """Rewrite a follow-up into a standalone query using the previous turn's topic."""
    if not history or not is_follow_up(question):
        return question
    previous = history[-1].standalone_question or history[-1].question
    mine = set(content_terms(question))
    topic: list[str] = []
    for word in tokens(previous):
        if word in STOPWORDS or word in _QUESTION_WORDS or len(word) < 2:
            continue
        if content_terms(word) and content_terms(word)[0] in mine:
            continue
        if word not in topic:
            topic.append(word)
    if not topic:
        return question
    # Keep the user's casing of the topic words (CRMO, CIO) as they were written.
    cased = {w.lower(): w for w in re.findall(r"[A-Za-z0-9'’]+", previous)}
    return f"{question} (about: {' '.join(cased.get(w, w) for w in topic[:10])})"


class Advisor:
    """Ask questions of the CRM corpus, list its sources, read conversations."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        embedder: Embedder | None = None,
        generator: Generator | None = None,
        store: ConversationStore | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self._embedder = embedder
        self._generator = generator
        self._store = store
        self._snapshot: IndexSnapshot | None = None
        self._searcher: HybridSearcher | None = None
        self._lock = threading.Lock()
        self._chain: Runnable[dict[str, Any], dict[str, Any]] | None = None

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
        """The hybrid searcher over the serving index (IndexNotReadyError if none)."""
        embedder = self.embedder
        with self._lock:
            if self._searcher is None:
                self._snapshot = IndexSnapshot(self.settings, embedder)
                self._searcher = HybridSearcher(self._snapshot, embedder, self.settings)
            return self._searcher

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

    def warm(self) -> None:
        """Load the model and index now rather than on the first question."""
        _ = self.searcher, self.generator

    # -- the chain ---------------------------------------------------------------------
    @property
    def chain(self) -> Runnable[dict[str, Any], dict[str, Any]]:
        """condense | retrieve | compose, as LangChain Runnables over a state dict."""
        if self._chain is None:
            self._chain = (
                RunnableLambda(self._condense_step, name="condense")
                | RunnableLambda(self._retrieve_step, name="retrieve")
                | RunnableLambda(self._compose_step, name="compose")
            )
        return self._chain

    def _condense_step(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        standalone = condense(state["question"], state["history"])
        return {**state, "standalone": standalone, "t_condense": time.perf_counter() - t}

    def _retrieve_step(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        retrieval = self.searcher.search(state["standalone"], mode=state.get("mode", "hybrid"))
        return {**state, "retrieval": retrieval, "t_retrieve": time.perf_counter() - t}

    def _compose_step(self, state: dict[str, Any]) -> dict[str, Any]:
        t = time.perf_counter()
        retrieval: Retrieval = state["retrieval"]
        composition = None
        if retrieval.passed_gate:
            query, _ = strip_injection(state["standalone"])
            composition = self.generator.compose(query, retrieval)
        return {**state, "composition": composition, "t_compose": time.perf_counter() - t}

    # -- public API --------------------------------------------------------------------
    def ask(
        self, question: str, conversation_id: str | None = None, *, mode: str = "hybrid"
    ) -> Answer:
        """Answer a question from the corpus, citing every sentence; remember the turn."""
        started = time.perf_counter()
        text = clean_question(question)
        cid = check_conversation_id(conversation_id) if conversation_id else uuid.uuid4().hex
        history = self.store.turns(cid, last=self.settings.history_turns) if conversation_id else []
        state = self.chain.invoke({"question": text, "history": history, "mode": mode})
        answer = self._answer(state, cid)
        answer.timings.update(
            condense=state["t_condense"],
            retrieve=state["t_retrieve"],
            compose=state["t_compose"],
        )
        answer.turn = self.store.append(cid, text, answer)
        answer.timings["total"] = time.perf_counter() - started
        return answer

    def _answer(self, state: dict[str, Any], cid: str) -> Answer:
        retrieval: Retrieval = state["retrieval"]
        composition = state["composition"]
        base = {
            "conversation_id": cid,
            "standalone_question": state["standalone"],
            "generator": self.generator.name,
        }
        if composition is None or composition.empty:
            reason = retrieval.reason or "no sentence of the passages answers it closely enough"
            text = REFUSAL
            if not strip_injection(state["standalone"])[0]:
                reason, text = "the question is an instruction, not a question", INSTRUCTION_REFUSAL
            return Answer(answer=text, answered=False, refusal_reason=reason, **base)
        text, order = render(composition)
        citations = []
        for n, hit_idx in enumerate(order, start=1):
            hit = composition.hits[hit_idx]
            meta = hit.passage.meta
            citations.append(
                Citation(
                    n=n,
                    doc_id=hit.passage.doc_id,
                    title=str(meta.get("title", "")),
                    kind=meta.get("kind", "article"),
                    quote=hit.passage.text,
                    score=round(hit.similarity, 4),
                    passage_id=hit.passage.id,
                    section=str(meta.get("section", "")),
                    author=meta.get("author"),
                    publication=meta.get("publication"),
                    date=meta.get("date"),
                )
            )
        return Answer(answer=text, answered=True, citations=citations, **base)

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
        """Every turn of a conversation, or ConversationNotFoundError."""
        turns = self.store.turns(check_conversation_id(conversation_id))
        if not turns:
            raise ConversationNotFoundError(f"no conversation {conversation_id!r}")
        return turns
