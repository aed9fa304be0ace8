"""The MCP server: the advisor's answers, plan reviews and sources for assistants that speak
the Model Context Protocol (Claude, ChatGPT, Copilot, Open WebUI and other MCP hosts).

Built with the official MCP Python SDK (``mcp``, its ``MCPServer``), on the same ``Advisor``
as every other door. One definition serves two transports:

- stdio: ``advisor mcp``, for a host that launches the advisor as a subprocess;
- streamable HTTP at ``/mcp`` on the HTTP app (``bot.app``), behind the same API keys,
  rate limit and CORS policy as ``/v1``.

Tools: ``ask_crm_advisor``, ``review_crm_plan`` and ``list_sources``. Each returns the
readable text (with its "Sources:" list) for the host model, and the same result as
structured content. The corpus documents (not those the administrators added) are
resources, ``crm-advisor://documents/{id}``,
listed from the serving index on each request, so an ingest shows at once. An input the
advisor refuses, or an index that is not ready, is a tool error the host model can read
(the advisor's errors carry no internals); anything else is the SDK's generic error.
"""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Annotated, Any

import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp_types import CallToolResult, Resource, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from advisor import (
    Advisor,
    AdvisorError,
    Citation,
    DocumentNotFoundError,
    Finding,
    SourceInfo,
    Strength,
    answer_document,
    review_document,
)
from bot.problems import PROBLEMS

log = logging.getLogger("advisor.mcp")
DOCUMENTS = "crm-advisor://documents/"
INSTRUCTIONS = (
    "CRM Advisor answers managers' questions on CRM strategy from a curated corpus of "
    "articles and advice notes, and cites every claim with [n] markers and a source list: "
    "why CRM initiatives fail, whether a plan's scope is too broad, who should own the "
    "project, how to phase a rollout, data quality, integration, adoption, measurement and "
    "running the CRM after go-live. It also reviews a pasted CRM plan against 12 known "
    "failure patterns. It does not answer other topics (it says so instead of guessing), "
    "compare vendors or prices, or give legal advice. Keep its citations when you pass its "
    "answers on."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


class AskResult(BaseModel):
    """An answer: its text with [n] markers, whether it answers, and what it cites."""

    answer: str
    answered: bool = Field(description="False when the corpus does not cover the question.")
    conversation_id: str = Field(description="Pass it back to ask a follow-up.")
    citations: list[Citation]


class ReviewResult(BaseModel):
    """A plan review: red flags, at most 3 open questions and strengths, with citations."""

    readiness: int = Field(description="0 (not ready) to 100 (ready).")
    verdict: str
    summary: str
    red_flags: list[Finding]
    open_questions: list[Finding]
    strengths: list[Strength]
    conversation_id: str = Field(description="Pass it to ask_crm_advisor for follow-ups.")
    citations: list[Citation]


class SourcesResult(BaseModel):
    """The documents the advisor answers from."""

    sources: list[SourceInfo]


class AdvisorMCP(MCPServer):
    """The SDK's server, its resources listed from the serving index on each request."""

    def __init__(self, advisor: Advisor) -> None:
        super().__init__(
            "crm-advisor", title="CRM Advisor", instructions=INSTRUCTIONS, version=_version()
        )
        self.advisor = advisor

    async def list_resources(self) -> list[Resource]:
        """Every document of the serving index, as ``crm-advisor://documents/{id}``: the
        articles first, then the advice notes, then the short answers.

        Hosts list resources as they connect, so no index (yet) is an empty list and a
        warning on stderr; the tools say what is wrong when they are called.
        """
        try:
            docs = await anyio.to_thread.run_sync(self.advisor.sources)
        except AdvisorError as exc:
            log.warning("no documents to list: %s", exc)
            return []
        order = {"article": 0, "note": 1, "answer": 2}
        corpus = [d for d in docs if d.origin == "corpus"]
        return [_resource(d) for d in sorted(corpus, key=lambda d: order.get(d.kind, 3))]


def build_mcp(advisor: Advisor) -> AdvisorMCP:
    """The MCP server around ``advisor``: three tools and the document resources."""
    server = AdvisorMCP(advisor)
    tools = Tools(advisor)
    for tool in (tools.ask_crm_advisor, tools.review_crm_plan, tools.list_sources):
        server.add_tool(tool, annotations=READ_ONLY)
    server.resource(f"{DOCUMENTS}{{doc_id}}", mime_type="text/markdown")(tools.document)
    return server


class Tools:
    """The tools and the document resource; their docstrings are what hosts read."""

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor

    def ask_crm_advisor(
        self,
        question: Annotated[str, Field(description="The manager's question, 1-4,000 chars.")],
        conversation_id: Annotated[
            str | None, Field(description="From an earlier answer, for a follow-up.")
        ] = None,
    ) -> Annotated[CallToolResult, AskResult]:
        """Answer a question on CRM strategy from the curated corpus, every sentence cited.

        Use it for why CRM initiatives fail, scope, ownership, phasing a rollout, data,
        integration, adoption and measurement. Off-topic questions come back unanswered.
        """
        answer = _call(self.advisor.ask, question, conversation_id)
        result = AskResult(
            answer=answer.answer,
            answered=answer.answered,
            conversation_id=answer.conversation_id,
            citations=answer.citations,
        )
        return _result(answer_document(answer), result)

    def review_crm_plan(
        self, plan: Annotated[str, Field(description="The CRM plan's text, as written.")]
    ) -> Annotated[CallToolResult, ReviewResult]:
        """Review a CRM plan against 12 known failure patterns: the red flags it shows
        (quoting the plan), at most 3 open questions, and its strengths, all cited."""
        review = _call(self.advisor.review, plan)
        result = ReviewResult(
            readiness=review.readiness,
            verdict=review.verdict,
            summary=review.summary,
            red_flags=review.red_flags,
            open_questions=review.open_questions,
            strengths=review.strengths,
            conversation_id=review.conversation_id,
            citations=review.citations,
        )
        return _result(review_document(review), result)

    def list_sources(self) -> Annotated[CallToolResult, SourcesResult]:
        """The articles and advice notes the advisor answers from, with attribution."""
        docs = _call(self.advisor.sources)
        lines = [f"- {d.title} ({d.kind}{_by(d)}): {DOCUMENTS}{d.doc_id}" for d in docs]
        return _result("\n".join(lines), SourcesResult(sources=docs))

    def document(self, doc_id: str) -> str:
        """One corpus document's indexed text. Documents added by the administrators are
        not served whole (users see them quoted in answers, as over /v1)."""
        try:
            added = {d.doc_id for d in self.advisor.sources() if d.origin == "added"}
            if doc_id in added:
                raise DocumentNotFoundError(f"{doc_id[:80]!r} is not a corpus document")
            return self.advisor.document(doc_id)
        except DocumentNotFoundError as exc:
            raise ResourceNotFoundError(str(exc)) from exc
        except AdvisorError as exc:
            raise ResourceError(str(exc)) from exc


def _version() -> str:
    try:
        return metadata.version("crm-advisor")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "0"


def _call(method: Any, *args: Any) -> Any:
    """Run an advisor method; its errors (bad input, no index) become tool errors, and the
    server's own failures are logged as every other door logs them."""
    try:
        return method(*args)
    except AdvisorError as exc:
        if PROBLEMS.get(exc.code, (500, ""))[0] >= 500:
            log.error("MCP tool %s failed: %s", getattr(method, "__name__", method), exc)
        raise ToolError(str(exc)) from exc


def _result(text: str, structured: BaseModel) -> CallToolResult:
    content = [TextContent(type="text", text=text)]
    return CallToolResult(content=content, structured_content=structured.model_dump(mode="json"))


def _by(doc: SourceInfo) -> str:
    who = ", ".join(x for x in (doc.author, doc.publication, doc.date) if x)
    return f", {who}" if who else ""


def _resource(doc: SourceInfo) -> Resource:
    return Resource(
        uri=f"{DOCUMENTS}{doc.doc_id}",
        name=doc.doc_id,
        title=doc.title,
        description=f"{doc.kind}{_by(doc)}",
        mime_type="text/markdown",
    )
