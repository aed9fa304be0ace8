"""RFC 9457 problem details: every HTTP error is one, with a stable ``type`` and a human detail."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from advisor import AdvisorError

log = logging.getLogger("advisor.http")

MEDIA_TYPE = "application/problem+json"

# slug: (status, title). The slug is the stable part of `type`; clients may switch on it.
PROBLEMS: dict[str, tuple[int, str]] = {
    "malformed-json": (422, "The request body is not valid JSON"),
    "validation-error": (422, "The request does not match the schema"),
    "unsupported-media-type": (415, "The request body has the wrong media type"),
    "body-too-large": (413, "The request body is too large"),
    "body-too-slow": (408, "The request body arrived too slowly"),
    "empty-question": (422, "The question is empty"),
    "question-too-long": (422, "The question is too long"),
    "invalid-conversation-id": (422, "The conversation id is not valid"),
    "empty-plan": (422, "The plan is empty"),
    "plan-too-short": (422, "The plan is too short to review"),
    "plan-too-long": (422, "The plan is too long"),
    "plan-not-english": (422, "The plan is not in English"),
    "not-a-crm-plan": (422, "The text is not a CRM plan"),
    "invalid-input": (422, "The input is not valid"),
    "missing-api-key": (401, "An API key is required"),
    "invalid-api-key": (401, "The API key is not valid"),
    "rate-limited": (429, "Too many requests"),
    "missing-admin-key": (401, "An admin key is required"),
    "invalid-admin-key": (401, "The admin key is not valid"),
    "missing-metrics-key": (401, "The metrics key is required"),
    "invalid-metrics-key": (401, "The metrics key is not valid"),
    "admin-disabled": (403, "Document administration is not enabled"),
    "bad-document": (422, "The file cannot be added"),
    "document-not-found": (404, "No such added document or job"),
    "conversation-not-found": (404, "No such conversation"),
    "turn-not-found": (404, "No such turn in the conversation"),
    "not-found": (404, "Not found"),
    "model-not-found": (404, "No such model"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-ready": (503, "The advisor is not ready"),
    "index-not-ready": (503, "The corpus index is not ready"),
    "embedding-error": (503, "The embedding model failed"),
    "retrieval-error": (503, "Searching the corpus failed"),
    "store-error": (503, "The conversation store failed"),
    "generation-error": (502, "The answer generator failed"),
    "indexing-error": (500, "Indexing failed"),
    "corpus-error": (500, "The corpus is invalid"),
    "config-error": (500, "The server is misconfigured"),
    "internal-error": (500, "Internal server error"),
}


class Problem(BaseModel):
    """An RFC 9457 problem detail: the body of every error response."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(description="`/problems/<slug>`: stable; clients may switch on it.")
    title: str = Field(description="The slug's short, fixed summary.")
    status: int = Field(ge=400, le=599, description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a person.")
    instance: str = Field("", description="The request path.")
    errors: list[dict[str, Any]] = Field(
        default_factory=list,
        description="For `validation-error`: each field's `loc`, `msg` and `type`.",
    )


def type_uri(slug: str) -> str:
    """The problem's ``type``: a relative URI that this server also documents."""
    return f"/problems/{slug}"


def problem_body(
    slug: str, detail: str, *, status: int | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON body of a problem; unknown slugs become internal-error."""
    if slug not in PROBLEMS:
        slug = "internal-error"
    usual, title = PROBLEMS[slug]
    body: dict[str, Any] = {"type": type_uri(slug), "title": title, "status": status or usual}
    body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem(
    slug: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    status: int | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response for a registered slug (``status`` overrides its usual one)."""
    body = problem_body(slug, detail, status=status, instance=instance, **extra)
    if instance is not None and is_openai_path(instance):
        return _openai_error(body, headers)
    return JSONResponse(body, status_code=body["status"], headers=headers, media_type=MEDIA_TYPE)


# The OpenAI-compatible routes (bot.openai_api) answer errors in OpenAI's shape, which that
# API's clients parse; every other route keeps problem+json.
OPENAI_PATHS = ("/v1/chat/completions", "/v1/models")


def is_openai_path(path: str) -> bool:
    """True for the OpenAI-compatible routes (``/v1/models/{id}`` included)."""
    return path in OPENAI_PATHS or path.startswith("/v1/models/")


def _openai_error(body: dict[str, Any], headers: dict[str, str] | None) -> JSONResponse:
    """``{"error": {message, type, param, code}}``; a 422 is OpenAI's 400."""
    status = 400 if body["status"] == 422 else body["status"]
    kind = {401: "authentication_error", 404: "invalid_request_error", 429: "rate_limit_error"}
    slug = body["type"].rsplit("/", 1)[-1]
    fields = body.get("errors") or []
    error = {
        "message": body["detail"],
        "type": "server_error" if status >= 500 else kind.get(status, "invalid_request_error"),
        "param": ".".join(fields[0]["loc"][1:]) or None if fields else None,
        "code": slug.replace("-", "_"),
    }
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _advisor_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AdvisorError)
    response = problem(exc.code, str(exc), instance=request.url.path)
    if response.status_code >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return response


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        where = next(e for e in errors if e.get("type") == "json_invalid")
        pos = (where.get("ctx") or {}).get("error", "")
        return problem(
            "malformed-json",
            f"the body could not be parsed as JSON{f': {pos}' if pos else ''}",
            instance=request.url.path,
        )
    # Inputs are not echoed back: they may be large or sensitive.
    fields = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type")}
        for e in errors
    ]
    summary = "; ".join(f"{'.'.join(f['loc'][1:]) or 'body'}: {f['msg']}" for f in fields[:5])
    return problem("validation-error", summary, instance=request.url.path, errors=fields)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # FastAPI raises a bare 400 when a body is not even decodable text: malformed JSON too.
    known = {
        400: "malformed-json",
        404: "not-found",
        405: "method-not-allowed",
        408: "body-too-slow",
        413: "body-too-large",
    }
    slug = known.get(exc.status_code)
    status = None if slug else exc.status_code
    if slug is None:
        slug = "validation-error" if exc.status_code < 500 else "internal-error"
    headers = dict(exc.headers) if exc.headers else None
    allowed = _allowed(request) if exc.status_code == 405 else ""
    if allowed:  # else Starlette's own, for a path the schema does not publish
        headers = {**(headers or {}), "Allow": allowed}
    return problem(slug, str(exc.detail), instance=request.url.path, headers=headers, status=status)


def _allowed(request: Request) -> str:
    """Every method the published schema serves at this path: Starlette names only the first
    route's (and FastAPI nests included routers, so the schema is the one flat list)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path):
            methods |= {m.upper() for m in operations if m.isalpha()}
    return ", ".join(sorted(methods))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(
        "internal-error",
        "something went wrong on our side; it has been logged",
        instance=request.url.path,
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem detail."""
    app.add_exception_handler(AdvisorError, _advisor_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

    @app.get("/problems/{slug}", include_in_schema=False)
    def describe(slug: str) -> JSONResponse:
        """What a problem type means."""
        if slug not in PROBLEMS:
            return problem("not-found", f"no problem type {slug!r}")
        status, title = PROBLEMS[slug]
        return JSONResponse({"type": type_uri(slug), "title": title, "status": status})
