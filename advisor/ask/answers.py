"""Answers: the Answer contract built from an extractive composition or an LLM's text."""

from __future__ import annotations

from advisor.ask.compose import render
from advisor.ask.retrieval import Hit
from advisor.ask.state import AskState
from advisor.ask.writer import Written
from advisor.contract import (
    GREETING_REPLY,
    INSTRUCTION_REFUSAL,
    LANGUAGE_REPLY,
    NOISE_REPLY,
    REFUSAL,
    SMALLTALK_REPLY,
    UNCOVERED_NOTE,
    Answer,
    Citation,
)


def citation(n: int, hit: Hit) -> Citation:
    """Citation [n] of a retrieved passage."""
    p = hit.passage
    return Citation.of_passage(n, p.id, p.doc_id, p.text, p.meta, hit.similarity)


def on_focus(text: str, state: AskState) -> str:
    """Say first what the sources do not cover, and the plan-review finding a follow-up was
    read against, before the answer."""
    if state.uncovered:
        things = " or ".join(
            [", ".join(state.uncovered[:-1]), state.uncovered[-1]]
            if len(state.uncovered) > 1
            else state.uncovered
        )
        text = f"{UNCOVERED_NOTE.format(things=things)}\n\n{text}"
    focus = state.focus
    if focus is None:
        return text
    return f"On your plan's “{focus.title}” finding ({focus.severity}):\n\n{text}"


def reply_answer(state: AskState) -> Answer:
    """The reply to small talk, noise or another language: no search, no citations."""
    intent = state.intent
    if intent.kind == "smalltalk":
        text = GREETING_REPLY if intent.greeting and not intent.thanks else SMALLTALK_REPLY
        reason = "small talk"
    elif intent.kind == "other_language":
        text = LANGUAGE_REPLY.format(language=intent.language_name)
        reason = (
            f"written in {intent.language_name} ({intent.language}); the advisor answers in English"
        )
    else:
        text, reason = NOISE_REPLY, "not readable as a question"
    return Answer(
        answer=text,
        answered=False,
        conversation_id=state.conversation_id,
        standalone_question=state.question,
        generator="reply",
        refusal_reason=reason,
        intent=intent.kind,
    )


def extractive_answer(state: AskState, generator: str) -> Answer:
    """The Answer for a composed (or empty) extractive composition."""
    retrieval, composition = state.retrieval, state.composition
    assert retrieval is not None
    base = {
        "conversation_id": state.conversation_id,
        "standalone_question": state.standalone,
        "generator": generator,
        "question_type": state.question_type,
        "uncovered": state.uncovered,
    }
    if composition is None or composition.empty:
        reason = retrieval.reason or "no sentence of the passages answers it closely enough"
        text = REFUSAL
        if not state.query:
            reason, text = "the question is an instruction, not a question", INSTRUCTION_REFUSAL
        return Answer(answer=text, answered=False, refusal_reason=reason, **base)
    text, order = render(composition)
    citations = [citation(n, composition.hits[hit_idx]) for n, hit_idx in enumerate(order, start=1)]
    return Answer(answer=on_focus(text, state), answered=True, citations=citations, **base)


def written_answer(state: AskState, written: Written, generator: str) -> Answer:
    """The Answer for an LLM's guarded text."""
    assert state.retrieval is not None
    hits: list[Hit] = state.retrieval.hits
    return Answer(
        answer=on_focus(written.text, state),
        answered=True,
        conversation_id=state.conversation_id,
        standalone_question=state.standalone,
        citations=[citation(n, hits[n - 1]) for n in sorted(written.cited)],
        generator=generator,
        question_type=state.question_type,
        uncovered=state.uncovered,
        guard=written.guard,
    )
