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


Severity = Literal["high", "medium", "low"]


class Finding(BaseModel):
    """One failure pattern that a reviewed plan shows or leaves unaddressed."""

    pattern: str = Field(description="One of the 12 failure-pattern ids.")
    title: str
    severity: Severity
    basis: Literal["shown", "not_addressed"] = Field(
        description="Whether the plan shows the failure or is silent on it."
    )
    evidence: list[str] = Field(
        description='The plan\'s own sentences that triggered the finding, or ["not addressed"].'
    )
    why: str = Field(description="Why it matters, from the corpus, with [n] citations.")
    fix: str = Field(description="What to do instead, from the advice notes, with [n] citations.")
    signals: list[str] = Field(
        default_factory=list, description="The detector signals behind the finding."
    )
    score: float = Field(0.0, description="Detector strength in [0, 1]; higher is surer.")


class Strength(BaseModel):
    """A failure pattern that the plan addresses well, with the sentence that shows it."""

    pattern: str
    title: str
    evidence: list[str]


class GoalRewrite(BaseModel):
    """The plan's headline goal restated in specific, measurable form."""

    original: str
    rewrite: str
    subject: str
    metric: str
    fill_in: list[str] = Field(
        default_factory=list, description="Placeholders in the rewrite that the team must set."
    )


class Review(BaseModel):
    """A plan review: findings by pattern, a readiness score, a summary and citations."""

    conversation_id: str
    turn: int = 0
    readiness: int = Field(ge=0, le=100, description="0 (not ready) to 100 (ready).")
    verdict: Literal["ready", "needs work", "not ready"]
    summary: str
    findings: list[Finding] = Field(default_factory=list)
    strengths: list[Strength] = Field(default_factory=list)
    goal_rewrite: GoalRewrite | None = None
    citations: list[Citation] = Field(default_factory=list)
    text: str = Field("", description="The review as plain text, as stored in the conversation.")
    timings: dict[str, float] = Field(default_factory=dict, exclude=True)

    def contract(self) -> dict[str, object]:
        """The JSON-ready dict of the review."""
        return self.model_dump(mode="json")


class Turn(BaseModel):
    """One question and answer in a conversation."""

    turn: int
    question: str
    standalone_question: str
    answer: Answer
    created: float
    feedback: Feedback | None = None
    review: Review | None = None


class StreamEvent(BaseModel):
    """One event of a streamed answer: the citations, a piece of text, or the whole answer."""

    kind: Literal["citations", "delta", "answer"]
    citations: list[Citation] = Field(default_factory=list)
    text: str = ""
    answer: Answer | None = None
