"""The MCP server, driven by the MCP SDK's own client: over stdio (`advisor mcp` as a
subprocess) and over streamable HTTP at /mcp on a real server, behind the API keys."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from advisor.config import Settings
from tests.advisor.review.test_review import FLAWED
from tests.bot.conftest import Serve, ready

ADVISOR = str(Path(sys.executable).with_name("advisor"))
KEY = "mcp-test-key"
TOOLS = {"ask_crm_advisor", "review_crm_plan", "list_sources"}


def _run(session: Callable[[Client], Awaitable[None]], server: Any) -> None:
    async def main() -> None:
        async with Client(server, read_timeout_seconds=300) as client:
            await session(client)

    anyio.run(main)


async def _text(result: Any) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "text", None))


async def _every_tool(client: Client) -> None:
    listed = await client.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    ask = next(t for t in listed.tools if t.name == "ask_crm_advisor")
    assert "CRM" in (ask.description or "") and ask.output_schema is not None
    assert "refuse" in (client.instructions or "") or "does not answer" in (
        client.instructions or ""
    )

    answer = await client.call_tool("ask_crm_advisor", {"question": "Who should own the CRM?"})
    assert not answer.is_error
    got = answer.structured_content or {}
    assert got["answered"] and got["citations"] and "\nSources:\n" in await _text(answer)
    follow = await client.call_tool(
        "ask_crm_advisor",
        {"question": "and why does that matter?", "conversation_id": got["conversation_id"]},
    )
    assert (follow.structured_content or {})["conversation_id"] == got["conversation_id"]

    review = await client.call_tool("review_crm_plan", {"plan": FLAWED})
    found = review.structured_content or {}
    assert not review.is_error and found["red_flags"] and found["citations"]
    assert {f["pattern"] for f in found["red_flags"]} >= {"it_only_ownership"}
    assert (await _text(review)).startswith("Plan review: readiness")

    sources = await client.call_tool("list_sources", {})
    docs = (sources.structured_content or {})["sources"]
    assert len(docs) >= 5 and all("crm-advisor://documents/" in line for line in
                                  (await _text(sources)).splitlines())  # fmt: skip

    resources = (await client.list_resources()).resources
    assert {str(r.uri) for r in resources} == {
        f"crm-advisor://documents/{d['doc_id']}" for d in docs
    }
    article = next(r for r in resources if r.description and r.description.startswith("article"))
    read = await client.read_resource(str(article.uri))
    assert len(read.contents[0].text) > 1000  # type: ignore[union-attr]


async def _bad_arguments(client: Client) -> None:
    empty = await client.call_tool("ask_crm_advisor", {"question": "   "})
    assert empty.is_error and "empty" in await _text(empty)
    missing = await client.call_tool("ask_crm_advisor", {})
    assert missing.is_error and "question" in await _text(missing)
    not_a_plan = await client.call_tool("review_crm_plan", {"plan": "hello there"})
    assert not_a_plan.is_error
    unknown = await client.call_tool(
        "ask_crm_advisor", {"question": "hi", "conversation_id": "nope"}
    )
    assert unknown.is_error and "no conversation" in await _text(unknown)
    with pytest.raises(Exception, match="no document"):
        await client.read_resource("crm-advisor://documents/no-such-doc")
    # The server is still there after every refusal.
    assert (await client.call_tool("list_sources", {})).structured_content


def _stdio(settings: Settings) -> StdioServerParameters:
    env = {**os.environ, "ADVISOR_DATA_DIR": str(settings.data_dir),
           "ADVISOR_DATABASE_URL": settings.resolved_database_url}  # fmt: skip
    return StdioServerParameters(command=ADVISOR, args=["mcp"], env=env)


def test_stdio_serves_every_tool_and_the_documents(settings: Settings) -> None:
    async def both(client: Client) -> None:
        await _every_tool(client)
        await _bad_arguments(client)

    _run(both, _stdio(settings))


def test_streamable_http_behind_the_api_keys(serve: Serve) -> None:
    with serve(api_keys=[KEY]) as url:
        refused = httpx.post(f"{url}/mcp", json={}, headers={"Accept": "application/json"})
        assert refused.status_code == 401
        for session in (_every_tool, _bad_arguments):
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}, timeout=300)
            _run(session, streamable_http_client(f"{url}/mcp", http_client=http))


def test_mcp_over_http_takes_posts_only(serve: Serve) -> None:
    with serve() as url:
        ready(url)  # so that the server does not stop mid warm-up
        assert httpx.get(f"{url}/mcp", headers={"Accept": "text/event-stream"}).status_code == 405


def test_no_index_lists_no_documents_and_each_tool_says_why(tmp_path: Path) -> None:
    from advisor.facade import Advisor
    from bot.mcp_server import build_mcp

    server = build_mcp(Advisor(Settings(data_dir=tmp_path / "empty")))

    async def check(client: Client) -> None:
        assert (await client.list_resources()).resources == []
        result = await client.call_tool("list_sources", {})
        assert result.is_error and "advisor ingest" in await _text(result)

    _run(check, server)


def test_without_keys_only_loopback_host_names_are_served(serve: Serve) -> None:
    with serve() as url:
        ready(url)
        call = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Accept": "application/json, text/event-stream"}
        rebound = httpx.post(f"{url}/mcp", json=call, headers={**headers, "Host": "evil.example"})
        assert rebound.status_code == 421
        local = httpx.post(f"{url}/mcp", json=call, headers=headers)
        assert local.status_code != 421


def test_an_added_document_is_not_served_whole(
    tmp_path: Path, index_dir: Path, embedder: Any
) -> None:
    import shutil

    from advisor import DocumentLibrary, Settings
    from advisor.facade import Advisor
    from bot.mcp_server import build_mcp

    data = tmp_path / "data"
    shutil.copytree(index_dir, data)
    settings = Settings(data_dir=data)
    note = b"# Internal pricing memo\n\n" + b"Our CRM renewal terms are confidential. " * 40
    DocumentLibrary(settings, embedder_factory=lambda: embedder).add([("memo.md", note)])
    advisor = Advisor(settings, embedder=embedder)
    added = next(d for d in advisor.sources() if d.origin == "added")

    async def check(client: Client) -> None:
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert f"crm-advisor://documents/{added.doc_id}" not in uris and uris
        with pytest.raises(Exception, match="not a corpus document"):
            await client.read_resource(f"crm-advisor://documents/{added.doc_id}")

    _run(check, build_mcp(advisor))
