"""The /v1 HTTP API and health checks: each handler parses, calls the advisor, returns."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from advisor import (
    CONVERSATION_ID,
    MAX_COMMENT_CHARS,
    Advisor,
    AdvisorError,
    Answer,
    Feedback,
    Review,
    SourceInfo,
    StreamEvent,
    Turn,
    check_conversation_id,
)
from bot.problems import MEDIA_TYPE, Problem, problem, problem_body

log = logging.getLogger("advisor.http")

# The form check_conversation_id accepts, published so that clients (and fuzzers) know it.
# The check itself stays the advisor's: its InvalidConversationIdError is no ValueError, so it
# leaves pydantic as it is and becomes an `invalid-conversation-id` problem. It also refuses
# "", which the advisor would take for "no id" and answer in a new conversation.
CONVERSATION_ID_FORMAT: dict[str, Any] = {
    "pattern": f"^{CONVERSATION_ID.pattern}$",
    "minLength": 1,
    "maxLength": 128,
}
ConversationId = Annotated[
    str,
    AfterValidator(check_conversation_id),
    Field(json_schema_extra=CONVERSATION_ID_FORMAT),
]


def _integral(value: object) -> object:
    """1.0 as 1: JSON Schema's `integer` admits it; strings and booleans stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


class AskRequest(BaseModel):
    """A question, optionally continuing a conversation."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(
        description="1 to 4,000 characters after trimming.",
        examples=["Why do CRM projects fail?"],
    )
    conversation_id: ConversationId | None = Field(
        None, description="Continue this conversation; omit it to start a new one."
    )


class ReviewRequest(BaseModel):
    """A CRM plan to review, optionally inside an existing conversation."""

    model_config = ConfigDict(extra="forbid")

    plan: str = Field(
        description="The plan's text: at least 12 words, at most 20,000 characters.",
        examples=[
            "Goal: transform every customer relationship across the company this year. "
            "IT will lead the project and choose the software."
        ],
    )
    conversation_id: ConversationId | None = Field(
        None, description="Add the review to this conversation; omit it to start a new one."
    )


class FeedbackRequest(BaseModel):
    """A thumbs up or down on one answer, with an optional comment."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: ConversationId
    turn: Annotated[int, BeforeValidator(_integral)] = Field(
        ge=1, strict=True, description="The answer's `turn`, from /v1/ask."
    )
    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)


class ConversationOut(BaseModel):
    """A conversation's turns, oldest first, each with its feedback if any."""

    conversation_id: str
    turns: list[Turn]


class SourcesOut(BaseModel):
    """The documents in the serving index."""

    sources: list[SourceInfo]


PROBLEM_SCHEMA = Problem.model_json_schema()


def _problem_schema(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem_schema("Missing or invalid API key"),
    408: _problem_schema("The body did not all arrive within ADVISOR_BODY_TIMEOUT_S"),
    413: _problem_schema("Body too large"),
    415: _problem_schema("Body is not JSON"),
    422: _problem_schema(
        "Malformed JSON, wrong types, empty or too-long question or plan, bad conversation id"
    ),
    429: _problem_schema("Rate limit reached; see Retry-After"),
    503: _problem_schema("Index, model or conversation store unavailable"),
}
# Only where a conversation (or a turn of one) is named.
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: _problem_schema("No such conversation, or no such turn in it")
}


def get_advisor(request: Request) -> Advisor:
    """The app's one Advisor."""
    advisor: Advisor = request.app.state.advisor
    return advisor


AdvisorDep = Annotated[Advisor, Depends(get_advisor)]
router = APIRouter(prefix="/v1", tags=["advisor"], responses=ERRORS)


@router.post("/ask", response_model=Answer, responses=NOT_FOUND)
def ask(body: AskRequest, advisor: AdvisorDep, response: Response) -> Answer:
    """Answer a question from the corpus; every sentence carries an [n] citation."""
    answer = advisor.ask(body.question, body.conversation_id)
    response.headers["Server-Timing"] = server_timing(answer.timings)
    return answer


@router.post(
    "/ask/stream",
    response_class=StreamingResponse,
    responses={
        **NOT_FOUND,
        200: {
            "description": "Server-sent events: `citations`, then `delta` pieces of the "
            "answer text, then `answer` with the whole answer contract. With an LLM, a "
            "`reset` may come before the extractive answer's own `citations` and `delta`s: "
            "drop the text so far.",
            "content": {"text/event-stream": {}},
        },
    },
)
def ask_stream(body: AskRequest, advisor: AdvisorDep) -> StreamingResponse:
    """Answer as a stream of server-sent events."""
    events = advisor.stream(body.question, body.conversation_id)  # bad input raises here
    return StreamingResponse(
        encode_events(events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/review", response_model=Review, responses=NOT_FOUND)
def review(body: ReviewRequest, advisor: AdvisorDep, response: Response) -> Review:
    """Review a CRM plan against the 12 failure patterns; ask follow-ups in its conversation."""
    result = advisor.review(body.plan, body.conversation_id)
    response.headers["Server-Timing"] = server_timing(result.timings)
    return result


@router.get("/conversations/{conversation_id}", response_model=ConversationOut, responses=NOT_FOUND)
def conversation(
    conversation_id: Annotated[str, Path(json_schema_extra=CONVERSATION_ID_FORMAT)],
    advisor: AdvisorDep,
) -> ConversationOut:
    """The turns of a conversation."""
    return ConversationOut(
        conversation_id=conversation_id, turns=advisor.conversation(conversation_id)
    )


@router.post(
    "/feedback",
    response_model=Feedback,
    status_code=status.HTTP_201_CREATED,
    responses=NOT_FOUND,
)
def feedback(body: FeedbackRequest, advisor: AdvisorDep) -> Feedback:
    """Store a rating of one answer; rating the same turn again replaces it."""
    return advisor.feedback(body.conversation_id, body.turn, body.rating, body.comment)


@router.get("/sources", response_model=SourcesOut)
def sources(advisor: AdvisorDep) -> SourcesOut:
    """The corpus documents, with attribution and passage counts."""
    return SourcesOut(sources=advisor.sources())


health = APIRouter(tags=["health"])


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@health.get("/readyz", responses={503: _problem_schema("Not ready, with the reason")})
def readyz(request: Request) -> JSONResponse:
    """The index and model are loaded, or 503 with the reason."""
    reason = request.app.state.warmer.not_ready_reason()
    if reason:
        return problem("not-ready", reason, instance="/readyz")
    advisor: Advisor = request.app.state.advisor
    return JSONResponse({"status": "ready", "index": advisor.generation, **advisor.stats()})


def server_timing(timings: dict[str, float]) -> str:
    """The answer's stage timings as a Server-Timing header."""
    return ", ".join(f"{name};dur={seconds * 1000:.1f}" for name, seconds in timings.items())


def encode_events(events: Iterator[StreamEvent]) -> Iterator[str]:
    """Server-sent events for a streamed answer; a late failure becomes an `error` event."""
    try:
        for event in events:
            data: Any
            if event.kind == "citations":
                data = {"citations": [c.model_dump(mode="json") for c in event.citations]}
            elif event.kind == "delta":
                data = {"text": event.text}
            elif event.kind == "reset":
                data = {}
            else:
                assert event.answer is not None
                data = event.answer.contract()
            yield _sse(event.kind, data)
    except AdvisorError as exc:
        # Headers are gone by now, so the problem travels as an event.
        log.error("stream failed: %s", exc)
        yield _sse("error", problem_body(exc.code, str(exc)))


def _sse(kind: str, data: Any) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
