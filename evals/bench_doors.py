"""The OpenAI-compatible and MCP doors, timed beside ``/v1/ask`` on one server.

Issue 23's target: each door's p50 is at most 5 ms over ``/v1/ask``'s on the same questions
(``TARGET_DOOR_OVERHEAD_MS``). Each door is driven by its own client: plain HTTP for
``/v1/chat/completions`` (what the ``openai`` client sends), and the MCP SDK's client over
streamable HTTP for the ``ask_crm_advisor`` tool, its async session driven from this
thread through an AnyIO blocking portal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import httpx2
from anyio.from_thread import start_blocking_portal
from mcp import Client
from mcp.client.streamable_http import streamable_http_client


@contextmanager
def door_calls(url: str, key: str) -> Iterator[dict[str, Callable[[str], object]]]:
    """``{"openai": ask(question), "mcp": ask(question)}`` against the server at ``url``;
    each call raises when the door does not answer."""
    headers = {"Authorization": f"Bearer {key}"}
    transport = streamable_http_client(
        f"{url}/mcp", http_client=httpx2.AsyncClient(headers=headers, timeout=60)
    )
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
            result = portal.call(mcp.call_tool, "ask_crm_advisor", {"question": question})
            if result.is_error:
                raise RuntimeError(f"ask_crm_advisor failed: {result.content}")
            return result

        yield {"openai": chat, "mcp": tool}
