"""An OpenAI-compatible chat door: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Chat UIs and portals that speak OpenAI's chat API (Open WebUI, LibreChat, the ``openai``
clients) can use the advisor with a base URL and an API key. The request shapes follow
OpenAI's Chat Completions reference; errors on these routes use its error shape
(``bot.problems``).

- The last user message is the question; ``crm-advisor-review``, or a message that opens
  with "review this plan", gets a plan review of the text after that opening.
- Clients resend the whole transcript each time and send no conversation id, so each reply
  is recorded under a digest of the caller and the transcript so far
  (``SharedState.remember_thread``); the next request, whose earlier messages are that
  transcript, continues the same conversation, and a follow-up is read in its context. A
  transcript the advisor never saw (edited, or from elsewhere) starts a new conversation.
- Citations come as a "Sources:" footer in the text, and as ``citations`` (the answer
  contract's) beside ``choices``, with the ``conversation_id``; streamed, on the last chunk.
- With an LLM, a stream is sent when the guard has checked the answer: OpenAI's chunks
  cannot take back text, and the guard may replace a draft with the extractive answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from advisor import (
    Advisor,
    AdvisorError,
    Answer,
    ConversationNotFoundError,
    InvalidInputError,
    Review,
    answer_document,
    review_document,
)
from bot.api import AdvisorDep
from bot.problems import problem
from bot.state import SharedState

log = logging.getLogger("advisor.http")
T = TypeVar("T")
MODEL, REVIEW_MODEL = "crm-advisor", "crm-advisor-review"
MODELS = {
    MODEL: "Answers on CRM strategy from a curated corpus, every claim cited.",
    REVIEW_MODEL: "Reviews a pasted CRM plan against 12 known failure patterns.",
}
CREATED = 1764547200  # 2025-12-01: when these model names were first served
# "Review this plan:" then the plan (a colon or a line break after "plan"): a question
# that merely starts so ("review the plan's risks?") stays a question.
_REVIEW_OPENING = re.compile(
    r"^\s*(?:please\s+)?review\s+(?:this|my|our|the)\s+(?:crm\s+)?plan[ \t]*(?::|\r?\n)\s*",
    re.I,
)


class ContentPart(BaseModel):
    """One part of a message's content; only ``text`` parts are read."""

    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    """One message of the transcript."""

    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    @property
    def text(self) -> str:
        """The message's text: its string, or its text parts joined."""
        if isinstance(self.content, list):
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class ChatRequest(BaseModel):
    """OpenAI's chat request; sampling options (temperature, top_p, …) are accepted, unused."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(description=f"`{MODEL}` (answers) or `{REVIEW_MODEL}` (plan reviews).")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool | None = False
    n: int | None = Field(1, ge=1, le=1, description="One choice only.")
    user: str | None = Field(
        None, max_length=256, description="The end user; keeps a shared key's users apart."
    )


def _caller(request: Request, body: ChatRequest) -> str:
    """Whose transcript this is: the API key (or address), and OpenAI's ``user`` if sent,
    so the end users of a portal that shares one key keep their conversations apart."""
    return f"{getattr(request.state, 'caller', 'anonymous')}\0{body.user or ''}"


def get_shared(request: Request) -> SharedState:
    """The app's shared state (the conversation store's database)."""
    shared: SharedState = request.app.state.shared
    return shared


# OpenAI's error body, which these routes send instead of problem+json (bot.problems).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type", "code"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string", "description": "invalid_request_error, …"},
                "param": {"type": ["string", "null"], "description": "The field at fault."},
                "code": {"type": "string", "description": "The problem slug, underscored."},
            },
        }
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error(
        "Malformed or invalid: the last message is not the user's, the question is "
        "empty or too long, the plan too short to review"
    ),
    401: _error("Missing or invalid API key"),
    404: _error("No such model (`model_not_found`)"),
    408: _error("The body did not all arrive within ADVISOR_BODY_TIMEOUT_S"),
    413: _error("Body too large"),
    415: _error("Body is not JSON"),
    429: _error("Rate limit reached; see Retry-After"),
    503: _error("Index, model or conversation store unavailable"),
}
SharedDep = Annotated[SharedState, Depends(get_shared)]
router = APIRouter(prefix="/v1", tags=["openai-compatible"], responses=ERRORS)


@router.get("/models")
def list_models() -> dict[str, Any]:
    """The models this server offers, in OpenAI's list shape."""
    return {"object": "list", "data": [_model(name) for name in MODELS]}


@router.get("/models/{model_id}", response_model=None)
def get_model(model_id: str, request: Request) -> dict[str, Any] | JSONResponse:
    """One model, or OpenAI's 404."""
    if model_id not in MODELS:
        return _no_model(model_id, request.url.path)
    return _model(model_id)


@router.post(
    "/chat/completions",
    response_model=None,
    responses={
        200: {
            "description": "A `chat.completion`, or with `stream` a `text/event-stream` of "
            "`chat.completion.chunk`s ending in `data: [DONE]`. Beside OpenAI's fields: "
            "`conversation_id`, `citations` (the answer contract's) and, for an answer, "
            "`answered`.",
            "content": {"application/json": {}, "text/event-stream": {}},
        }
    },
)
def chat_completions(
    body: ChatRequest, request: Request, advisor: AdvisorDep, shared: SharedDep
) -> JSONResponse | StreamingResponse:
    """Answer the last user message (or review the plan in it); stream if asked."""
    if body.model not in MODELS:
        return _no_model(body.model, request.url.path)
    turn = Turn.read(body, _caller(request, body))
    reply_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        events = turn.stream(advisor, shared)  # bad input and unknown models raise here
        return StreamingResponse(
            _chunks(events, reply_id, body.model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    text, result = turn.reply(advisor, shared)
    message = {"role": "assistant", "content": text}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    # Recorded before the reply leaves, not in a background task: a client that sends
    # the follow-up at once would otherwise find no thread and lose the context.
    turn.remember(shared, text, result.conversation_id)
    return JSONResponse(
        {**_head(reply_id, body.model, "chat.completion"), "choices": [choice], **_side(result)}
    )


class Turn:
    """One request read: the question (or plan), the earlier transcript, who asks."""

    def __init__(self, said: str, prior: list[tuple[str, str]], caller: str, review: bool):
        self.said, self.prior, self.caller, self.review = said, prior, caller, review
        opening = _REVIEW_OPENING.match(said)
        self.question = said[opening.end() :] if opening else said  # the plan, for a review

    @classmethod
    def read(cls, body: ChatRequest, caller: str) -> Turn:
        """Raises InvalidInputError when the last message is not a user's text."""
        last = body.messages[-1]
        if last.role != "user" or not last.text.strip():
            raise InvalidInputError("the last message must be the user's, with text")
        said = [(m.role, m.text) for m in body.messages[:-1] if m.role in ("user", "assistant")]
        # On the review model the first message is the plan; later ones follow it up.
        opening = _REVIEW_OPENING.match(last.text) is not None
        review = opening or (body.model == REVIEW_MODEL and not said)
        turn = cls(last.text, said, caller, review)
        if review and not turn.question.strip():
            raise InvalidInputError("paste the plan after “review this plan”")
        return turn

    def key(self, transcript: list[tuple[str, str]]) -> str:
        """A digest of the caller and a transcript, blind to whitespace changes."""
        digest = hashlib.sha256(self.caller.encode())
        for role, text in transcript:
            # surrogatepass: an unpaired surrogate in an earlier message is digested as it
            # stands, not refused; only the question is checked (advisor.inputs).
            digest.update(f"\0{role}\0{' '.join(text.split())}".encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def conversation(self, shared: SharedState) -> str | None:
        """The conversation the earlier transcript belongs to, if this server recorded it."""
        return shared.thread(self.key(self.prior)) if self.prior else None

    def remember(self, shared: SharedState, text: str, conversation_id: str) -> None:
        """Record the transcript with this reply, so the next request continues it; a
        store failure costs the next message its context, not this reply."""
        transcript = [*self.prior, ("user", self.said), ("assistant", text)]
        try:
            shared.remember_thread(self.key(transcript), conversation_id)
        except AdvisorError as exc:
            log.warning("could not record the chat thread: %s", exc)

    def reply(self, advisor: Advisor, shared: SharedState) -> tuple[str, Answer | Review]:
        """The whole reply's text and the advisor's result, not yet ``remember``ed."""
        result = self._ask(advisor, shared)
        text = review_document(result) if isinstance(result, Review) else answer_document(result)
        return text, result

    def _ask(self, advisor: Advisor, shared: SharedState) -> Answer | Review:
        if self.review:
            return self._continued(shared, lambda cid: advisor.review(self.question, cid))
        return self._continued(shared, lambda cid: advisor.ask(self.question, cid))

    def _continued(self, shared: SharedState, call: Callable[[str | None], T]) -> T:
        """``call`` in the recorded conversation, or in a new one once the store has lost
        it (a reset database)."""
        try:
            return call(self.conversation(shared))
        except ConversationNotFoundError:
            return call(None)

    def stream(self, advisor: Advisor, shared: SharedState) -> Iterator[tuple[str, Any]]:
        """``("text", piece)`` events, then ``("done", result)``; input errors raise now."""
        if self.review or advisor.writer is not None:
            text, result = self.reply(advisor, shared)  # checked whole before it is sent
            return self._whole(text, result, shared)
        events = self._continued(shared, lambda cid: advisor.stream(self.question, cid))
        return self._pieces(events, shared)

    def _whole(
        self, text: str, result: Answer | Review, shared: SharedState
    ) -> Iterator[tuple[str, Any]]:
        yield "text", text
        yield "done", result
        self.remember(shared, text, result.conversation_id)  # before [DONE], which clients await

    def _pieces(self, events: Iterator[Any], shared: SharedState) -> Iterator[tuple[str, Any]]:
        for event in events:
            if event.kind == "delta":
                yield "text", event.text
            elif event.kind == "answer":
                answer = event.answer
                whole = answer_document(answer)
                if footer := whole[len(answer.answer) :]:
                    yield "text", footer
                yield "done", answer
                self.remember(shared, whole, answer.conversation_id)


def _chunks(events: Iterator[tuple[str, Any]], reply_id: str, model: str) -> Iterator[str]:
    """OpenAI's ``chat.completion.chunk`` events, then ``[DONE]``; a late failure is an
    ``error`` event, which OpenAI's clients raise."""
    head = _head(reply_id, model, "chat.completion.chunk")
    first = True
    try:
        for kind, value in events:
            if kind == "text":
                delta = {"role": "assistant", "content": value} if first else {"content": value}
                first = False
                yield _data({**head, "choices": [_choice(delta, None)]})
            else:
                yield _data({**head, "choices": [_choice({}, "stop")], **_side(value)})
    except AdvisorError as exc:  # headers are gone: the error travels as a chunk, and is logged
        log.error("chat stream failed: %s", exc)
        yield _data({"error": {"message": str(exc), "type": "server_error", "code": exc.code}})
    yield "data: [DONE]\n\n"


def _choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish}


def _head(reply_id: str, model: str, kind: str) -> dict[str, Any]:
    return {"id": reply_id, "object": kind, "created": int(time.time()), "model": model}


def _side(result: Answer | Review) -> dict[str, Any]:
    """The fields beside OpenAI's: the conversation, the answer contract's citations and,
    for an answer, whether the question was answered."""
    side: dict[str, Any] = {"conversation_id": result.conversation_id}
    side["citations"] = [c.model_dump(mode="json") for c in result.citations]
    if isinstance(result, Answer):
        side["answered"] = result.answered
    return side


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": CREATED, "owned_by": "crm-advisor"}


def _no_model(name: str, path: str) -> JSONResponse:
    known, shown = ", ".join(MODELS), repr(name[:60]) + ("…" if len(name) > 60 else "")
    return problem("model-not-found", f"no model {shown}; this server has {known}", instance=path)


def _data(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
