"""The OpenAI-compatible and MCP doors, timed beside ``/v1/ask`` on one server.

Issue 23's target: each door's p50 is at most 5 ms over ``/v1/ask``'s on the same questions
(``TARGET_DOOR_OVERHEAD_MS``). Each door is timed as the request its client sends, over
plain HTTP, so the figure is the endpoint's and not a client library's:

- ``openai``: ``POST /v1/chat/completions``, the body the ``openai`` client sends;
- ``mcp``: ``POST /mcp`` with the JSON-RPC ``tools/call`` of ``ask_crm_advisor``, the
  headers the MCP SDK's streamable HTTP client sends (a stateless server needs no
  ``initialize`` first);
- ``mcp_sdk``: the same tool through the MCP SDK's own client (its async session driven
  from this thread through an AnyIO blocking portal), for what a host pays on top: the
  thread hop, pydantic parsing and the JSON Schema check of the structured result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import count

import httpx
import httpx2
from anyio.from_thread import start_blocking_portal
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

# What the SDK's streamable HTTP client sends with every request after the handshake.
MCP_HEADERS = {
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-06-18",
}


@contextmanager
def door_calls(url: str, key: str) -> Iterator[dict[str, Callable[[str], object]]]:
    """``{"openai": ask, "mcp": ask, "mcp_sdk": ask}`` against the server at ``url``, each
    ``ask(question)``; each call raises when the door does not answer."""
    headers = {"Authorization": f"Bearer {key}"}
    transport = streamable_http_client(
        f"{url}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60)
    )
    ids = count(1)
    with (
        httpx.Client(base_url=url, headers=headers, timeout=60) as http,
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(Client(transport, read_timeout_seconds=60)) as mcp,
    ):

        def chat(question: str) -> object:
            message = {"role": "user", "content": question}
            body = {"model": "crm-advisor", "messages": [message]}
            return http.post("/v1/chat/completions", json=body).raise_for_status()

        def tool(question: str) -> object:
            params = {"name": "ask_crm_advisor", "arguments": {"question": question}}
            body = {"jsonrpc": "2.0", "id": next(ids), "method": "tools/call", "params": params}
            reply = http.post("/mcp", json=body, headers=MCP_HEADERS).raise_for_status().json()
            if "result" not in reply or reply["result"].get("isError"):
                raise RuntimeError(f"ask_crm_advisor failed: {str(reply)[:300]}")
            return reply

        def sdk_tool(question: str) -> object:
            result = portal.call(mcp.call_tool, "ask_crm_advisor", {"question": question})
            if result.is_error:
                raise RuntimeError(f"ask_crm_advisor failed: {result.content}")
            return result

        yield {"openai": chat, "mcp": tool, "mcp_sdk": sdk_tool}
