"""How a question travels: condense, retrieve, write (LLM, guarded) or compose, then store.

The steps run over one typed ``AskState``. Condense and retrieve are LangChain Runnables
(``condense | retrieve``); writing streams, so it follows as a generator of
``StreamEvent`` values: the citations, pieces of text, then the stored ``Answer``.

::

    question ─ condense ─ retrieve ─┬─ LLM writer + guard ─┐
                                    └─ extractive composer ─┴─ Answer ─ store ─ events
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Protocol

from langchain_core.runnables import Runnable, RunnableLambda

from advisor.ask.answers import citation, extractive_answer, reply_answer, written_answer
from advisor.ask.compose import Generator
from advisor.ask.intents import classify
from advisor.ask.qtypes import QuestionTyper
from advisor.ask.questions import asking_sentence, asks_for_remedy, condense, is_follow_up
from advisor.ask.retrieval import HybridSearcher
from advisor.ask.state import AskState, Focus
from advisor.ask.writer import LLMWriter, Stats, Written
from advisor.config import Settings
from advisor.contract import Answer, Review, StreamEvent, Turn
from advisor.inputs import strip_injection
from advisor.knowledge.embeddings import VectorCache
from advisor.memory import ConversationStore
from advisor.tracing import record_turn

_PIECE = re.compile(r"[^\n]*\n|[^\n]+")  # the answer's lines, newlines kept


class Parts(Protocol):
    """What the pipeline needs; ``Advisor`` provides these, loading each on first use."""

    settings: Settings

    @property
    def searcher(self) -> HybridSearcher: ...

    @property
    def generator(self) -> Generator: ...

    @property
    def writer(self) -> LLMWriter | None: ...

    @property
    def store(self) -> ConversationStore: ...

    @property
    def question_typer(self) -> QuestionTyper: ...

    def focus(self, question: str, review: Review, qtype: str = "") -> Focus | None: ...


class AskPipeline:
    """Runs the steps for one ``Parts``; one instance serves every question, thread-safe."""

    def __init__(self, parts: Parts) -> None:
        self.parts = parts
        # Turns given, by outcome (answered, refused, small_talk, noise, other_language).
        self.outcomes = Stats()
        self.chain: Runnable[AskState, AskState] = RunnableLambda(
            self.condense, name="condense"
        ) | RunnableLambda(self.retrieve, name="retrieve")

    def run(self, state: AskState) -> Iterator[StreamEvent]:
        """Condense and retrieve now (errors raise here), then a generator of the events.

        Small talk, noise and other languages are not searched: they get their reply.
        """
        searcher = self.parts.searcher
        state.intent = classify(state.question, searcher.known_word, searcher.relevance)
        if state.intent.kind != "question":
            return self.reply(state)
        self._prefetch(state)
        state.question_type = self.parts.question_typer.classify(state.question)
        return self.events(self.chain.invoke(state))

    def _prefetch(self, state: AskState) -> None:
        """Embed the asking sentence (the type reader's) and the searched text in one model
        pass when they differ ("Our reps refuse to use it. What should we do?"): one pass of
        two texts costs about as much as one of one, and each later finds its vector cached.

        Only for a question searched as asked; a follow-up or a question about a review is
        searched in other words, known after condensing.
        """
        if state.review is not None or (state.history and is_follow_up(state.question)):
            return
        asked = QuestionTyper.embedded([state.question])[0]
        searched = strip_injection(state.question)[0]
        if searched and searched != asked:
            VectorCache.shared(self.parts.searcher.embedder).vectors([asked, searched])

    def reply(self, state: AskState) -> Iterator[StreamEvent]:
        """The reply to a turn that is not a question, stored like any turn."""
        answer = reply_answer(state)
        yield StreamEvent(kind="citations", citations=[])
        yield StreamEvent(kind="delta", text=answer.answer)
        t = time.perf_counter()
        answer.turn = self.parts.store.append(answer.conversation_id, state.question, answer)
        state.took("store", t)
        answer.timings["total"] = time.perf_counter() - state.started
        self.outcomes.add(outcome(answer))
        record_turn(self.parts.settings, answer, state.started, state.steps)
        yield StreamEvent(kind="answer", answer=answer)

    def condense(self, state: AskState) -> AskState:
        """Fill ``standalone`` and ``query``: a follow-up on a review searches its finding."""
        t = time.perf_counter()
        review, qtype = state.review, state.question_type
        focus = self.parts.focus(state.question, review, qtype) if review else None
        if focus is not None:
            state.focus = focus.finding
            about = focus.remedy if asks_for_remedy(state.question, qtype) else focus.about
            state.standalone = f"{state.question} (about: {about})"
        else:
            state.standalone = self._rewrite(state.question, state.history)
        state.query = strip_injection(state.standalone)[0]
        # Only the asking sentence, without instruction-like phrases: a name planted in a
        # preamble ("always recommend AcmeCRM…") is never echoed back.
        asked = asking_sentence(strip_injection(state.question)[0])
        state.uncovered = self.parts.searcher.uncovered(asked)
        state.took("condense", t)
        return state

    def _rewrite(self, question: str, history: list[Turn]) -> str:
        writer = self.parts.writer
        if writer and self.parts.settings.llm_condense and history and is_follow_up(question):
            rewrite = writer.condense(question, history)
            if rewrite:
                return rewrite
        return condense(question, history)

    def retrieve(self, state: AskState) -> AskState:
        """Fill ``retrieval``: hybrid search, fusion, MMR and the relevance gate."""
        t = time.perf_counter()
        state.retrieval = self.parts.searcher.search(
            state.standalone, mode=state.mode, cleaned=state.query
        )
        named = [u for u in state.uncovered if u not in ("prices", "legal requirements")]
        asks_of_it = state.question_type in ("choice", "how_many", "definition", "other")
        if named and asks_of_it and state.retrieval.passed_gate:
            # The option to choose, the figure or the meaning asked for is what they lack.
            state.retrieval.passed_gate = False
            state.retrieval.reason = f"the sources never mention {' or '.join(named)}"
        state.took("retrieve", t)
        return state

    def compose(self, state: AskState) -> AskState:
        """Fill ``composition`` with the extractive answer, when retrieval passed its gate."""
        t = time.perf_counter()
        assert state.retrieval is not None
        if state.retrieval.passed_gate:
            state.composition = self.parts.generator.compose(
                state.query, state.retrieval, state.question_type
            )
        state.took("compose", t)
        return state

    def events(self, state: AskState) -> Iterator[StreamEvent]:
        """Write (or compose), store the turn, and yield the events; the Answer comes last."""
        retrieval = state.retrieval
        assert retrieval is not None
        writer = self.parts.writer
        written: Written | None = None
        if writer is not None and retrieval.passed_gate and state.query:
            consulted = [citation(n, hit) for n, hit in enumerate(retrieval.hits, start=1)]
            yield StreamEvent(kind="citations", citations=consulted)
            for event in writer.write(state.query, retrieval):
                if event.kind == "done":
                    written = event.written
                else:
                    yield StreamEvent(kind=event.kind, text=event.text)
        if written is not None:  # the writer's own clock: its pass ended just now
            now = time.perf_counter()
            state.steps.append(("write", now - written.seconds, now))
        if writer is not None and written is not None and written.text:
            answer = written_answer(state, written, writer.name)
            answer.timings.update(write=written.seconds)
        else:
            self.compose(state)
            answer = extractive_answer(state, self.parts.generator.name)
            answer.timings.update(compose=state.timings["compose"])
            if written is not None:
                answer.guard, answer.fallback = written.guard, written.fallback
                answer.timings.update(write=written.seconds)
            yield StreamEvent(kind="citations", citations=answer.citations)
            for piece in _PIECE.findall(answer.answer):
                yield StreamEvent(kind="delta", text=piece)
        taken = state.timings
        answer.timings.update(condense=taken["condense"], retrieve=taken["retrieve"])
        # Stored last, so a turn exists only once its whole answer has been given.
        t = time.perf_counter()
        answer.turn = self.parts.store.append(answer.conversation_id, state.question, answer)
        state.took("store", t)
        answer.timings["total"] = time.perf_counter() - state.started
        self.outcomes.add(outcome(answer))
        record_turn(self.parts.settings, answer, state.started, state.steps)
        yield StreamEvent(kind="answer", answer=answer)


def outcome(answer: Answer) -> str:
    """What a turn came to: answered or refused (a question), or the turn's intent."""
    if answer.intent == "question":
        return "answered" if answer.answered else "refused"
    return "small_talk" if answer.intent == "smalltalk" else answer.intent
