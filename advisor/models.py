"""Typed results of the advisor: the answer contract shared by every front door."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """One cited passage; ``quote`` is the passage text exactly as indexed."""

    n: int = Field(description="The marker number used in the answer text, [n].")
    doc_id: str
    title: str
    kind: Literal["article", "note"]
    quote: str
    score: float = Field(description="Cosine similarity of the passage to the question.")
    passage_id: str = ""
    section: str = ""
    author: str | None = None
    publication: str | None = None
    date: str | None = None


class Answer(BaseModel):
    """An answer in the shared contract, plus a few fields for follow-ups and evals."""

    answer: str
    answered: bool
    conversation_id: str
    citations: list[Citation] = Field(default_factory=list)
    turn: int = 0
    standalone_question: str = ""
    generator: str = "extractive"
    refusal_reason: str = Field("", description="Why the question was not answered, if so.")
    timings: dict[str, float] = Field(default_factory=dict, exclude=True)

    def contract(self) -> dict[str, object]:
        """The JSON-ready dict of the answer contract."""
        return self.model_dump(mode="json")


class SourceInfo(BaseModel):
    """A corpus document as listed by ``Advisor.sources``."""

    doc_id: str
    title: str
    kind: Literal["article", "note"]
    passages: int
    author: str | None = None
    publication: str | None = None
    date: str | None = None
    pattern: str | None = None
    path: str = ""


class Feedback(BaseModel):
    """A user's rating of one answer; a later rating of the same turn replaces it."""

    conversation_id: str
    turn: int
    rating: Literal["up", "down"]
    comment: str | None = None
    created: float = 0.0


class Turn(BaseModel):
    """One question and answer in a conversation."""

    turn: int
    question: str
    standalone_question: str
    answer: Answer
    created: float
    feedback: Feedback | None = None


class StreamEvent(BaseModel):
    """One event of a streamed answer: the citations, a piece of text, or the whole answer."""

    kind: Literal["citations", "delta", "answer"]
    citations: list[Citation] = Field(default_factory=list)
    text: str = ""
    answer: Answer | None = None
