"""Typed results of the advisor: the answer contract shared by every front door."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Citation(BaseModel):
    """One cited passage; ``quote`` is the passage text exactly as indexed."""

    n: int = Field(description="The marker number used in the answer text, [n].")
    doc_id: str
    title: str
    kind: Literal["article", "note", "answer"]
    quote: str
    score: float = Field(description="Cosine similarity of the passage to the question.")
    passage_id: str = ""
    section: str = ""
    author: str | None = None
    publication: str | None = None
    date: str | None = None
    page: int | None = Field(None, description="The page of an added PDF the passage is on.")

    @classmethod
    def of_passage(
        cls, n: int, passage_id: str, doc_id: str, text: str, meta: dict[str, Any], score: float
    ) -> Citation:
        """Citation [n] of an indexed passage, from its text and stored metadata."""
        page = str(meta.get("page") or "")
        return cls(
            n=n,
            doc_id=doc_id,
            title=str(meta.get("title", "")),
            kind=meta.get("kind", "article"),
            quote=text,
            score=round(score, 4),
            passage_id=passage_id,
            section=str(meta.get("section", "")),
            author=meta.get("author"),
            publication=meta.get("publication"),
            date=meta.get("date"),
            page=int(page) if page.isdigit() else None,
        )


class GuardReport(BaseModel):
    """What the grounding guard found in an LLM's answer, and what it did about it."""

    mode: Literal["remove", "flag", "off"]
    stepped_in: bool = Field(
        description="True when it removed or flagged a sentence, dropped a citation, "
        "or replaced the answer with the extractive one."
    )
    sentences: int = Field(0, description="Sentences the model wrote.")
    supported: int = Field(0, description="Of those, sentences its cited passages support.")
    removed: int = 0
    flagged: int = 0
    dropped_citations: list[int] = Field(
        default_factory=list, description="[n] markers that named no retrieved passage."
    )


class Answer(BaseModel):
    """An answer in the shared contract, plus a few fields for follow-ups and evals."""

    answer: str
    answered: bool
    conversation_id: str
    citations: list[Citation] = Field(default_factory=list)
    turn: int = 0
    standalone_question: str = ""
    generator: str = Field(
        "extractive", description="What wrote the text: `extractive`, or the LLM backend:model."
    )
    refusal_reason: str = Field("", description="Why the question was not answered, if so.")
    intent: Literal["question", "smalltalk", "noise", "other_language"] = Field(
        "question",
        description="What the turn was: a question (searched), small talk, noise (asked to "
        "rephrase) or another language (asked in English); only questions are searched.",
    )
    question_type: str = Field(
        "",
        description="The question's form: yes_no, choice, who, how_many, definition, why, "
        "how_to, list or other; the first sentence answers in that form.",
    )
    uncovered: list[str] = Field(
        default_factory=list,
        description="What the question names that the sources do not cover (a law, a vendor, "
        "a price); the answer says so before answering the rest.",
    )
    guard: GuardReport | None = Field(
        None, description="The grounding guard's report, when an LLM was asked to write."
    )
    fallback: str = Field(
        "", description="Why the LLM's answer was replaced by the extractive one, if it was."
    )
    timings: dict[str, float] = Field(default_factory=dict, exclude=True)

    def contract(self) -> dict[str, object]:
        """The JSON-ready dict of the answer contract."""
        return self.model_dump(mode="json")


class SourceInfo(BaseModel):
    """A corpus document as listed by ``Advisor.sources``."""

    doc_id: str
    title: str
    kind: Literal["article", "note", "answer"]
    passages: int
    author: str | None = None
    publication: str | None = None
    date: str | None = None
    pattern: str | None = None
    path: str = ""
    origin: Literal["corpus", "added"] = Field(
        "corpus", description="`added` for a document added with `advisor add` or an upload."
    )
    file_name: str | None = Field(None, description="An added document's original file name.")
    pages: int | None = Field(None, description="An added PDF's page count.")
    tags: list[str] = Field(default_factory=list)

    @classmethod
    def of_manifest(cls, doc_id: str, meta: dict[str, Any]) -> SourceInfo:
        """The listing of one document from its entry in the index manifest."""
        return cls(
            doc_id=doc_id,
            title=meta["title"],
            kind=meta["kind"],
            passages=int(meta.get("passages", 0)),
            author=meta.get("author"),
            publication=meta.get("publication"),
            date=str(meta["date"]) if meta.get("date") else None,
            pattern=meta.get("pattern"),
            path=meta.get("path", ""),
            origin="added" if meta.get("origin") == "added" else "corpus",
            file_name=meta.get("file_name"),
            pages=meta.get("pages"),
            tags=[str(t) for t in meta.get("tags") or []],
        )


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
    confidence: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="For a red flag (basis shown), the classifier's probability that its "
        "sentence shows the pattern; for an open question, how sure it is that the plan is "
        "silent on it.",
    )
    question: str = Field(
        "", description="For an open question (basis not_addressed): what the team must answer."
    )


class Strength(BaseModel):
    """A failure pattern that the plan addresses well, with the sentence that shows it."""

    pattern: str
    title: str
    evidence: list[str]
    confidence: float = Field(0.0, ge=0.0, le=1.0, description="The classifier's probability.")


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
    findings: list[Finding] = Field(
        default_factory=list,
        description="Red flags (basis shown, most severe first), then at most 3 open "
        "questions (basis not_addressed, most consequential first).",
    )
    strengths: list[Strength] = Field(default_factory=list)
    goal_rewrite: GoalRewrite | None = None
    citations: list[Citation] = Field(default_factory=list)
    text: str = Field("", description="The review as plain text, as stored in the conversation.")
    narrative: str = Field(
        "", description="An LLM's guarded narrative of the findings, with [n] citations, if any."
    )
    narrative_by: str = Field("", description="The LLM backend:model that wrote the narrative.")
    narrative_guard: GuardReport | None = None
    timings: dict[str, float] = Field(default_factory=dict, exclude=True)

    @property
    def red_flags(self) -> list[Finding]:
        """The patterns the plan shows, each with the plan's own sentence."""
        return [f for f in self.findings if f.basis == "shown"]

    @property
    def open_questions(self) -> list[Finding]:
        """The most consequential things the plan does not address (at most 3)."""
        return [f for f in self.findings if f.basis == "not_addressed"]

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


class ConversationSummary(BaseModel):
    """One conversation in a list of recent ones: its id, first question, size and age."""

    conversation_id: str
    title: str  # the first question (for a review, the plan), as asked
    turns: int
    updated: float  # Unix time of the last turn, in seconds


class StreamEvent(BaseModel):
    """One event of a streamed answer: citations, a piece of text, a reset, or the answer.

    ``reset`` tells the client to drop the text streamed so far: the LLM's answer is being
    replaced by the extractive one (the backend failed, or the guard rejected too much).
    """

    kind: Literal["citations", "delta", "reset", "answer"]
    citations: list[Citation] = Field(default_factory=list)
    text: str = ""
    answer: Answer | None = None


# The headings an answer's sentences sit under, and the refusals: part of the contract.
DIRECT_HEADING = "In short:"
EVIDENCE_HEADING = "What the sources say:"
ADVICE_HEADING = "What we advise:"
REFUSAL = (
    "I can't answer that from my CRM strategy sources: they don't cover it. "
    "I can help with why CRM initiatives fail and how to avoid it: scoping goals, "
    "strategy before software, data quality and integration, measuring ROI, resourcing, "
    "who should own the project, leadership, and phasing a rollout. "
    "Try, for example: “Why is our CRM plan too broad?” or “Who should own the CRM project?”"
)
INSTRUCTION_REFUSAL = (
    "That reads as an instruction rather than a question about CRM strategy, so I have not "
    "acted on it. Ask me about CRM strategy, for example: “Why is our CRM plan too broad?”"
)
SMALLTALK_REPLY = (
    "Glad to help. Ask me anything about CRM strategy: why initiatives fail, scoping goals, "
    "who should own the project or how to phase a rollout. You can also paste a plan for review."
)
GREETING_REPLY = (
    "Hello! I advise on CRM strategy from a curated set of sources, citing each claim. Ask, "
    "for example: “Who should own the CRM project?”, or paste a plan for review."
)
NOISE_REPLY = (
    "I couldn't read that as a question. Could you rephrase it? For example: "
    "“Should we pilot the CRM with one team first?”"
)
LANGUAGE_REPLY = (
    "Your message reads as {language}. I answer in English only, because my sources on CRM "
    "strategy are in English. Please ask again in English, for example: “Why do CRM projects fail?”"
)
UNCOVERED_NOTE = "My sources do not cover {things}. What they do say on the rest of your question:"
