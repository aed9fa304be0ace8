"""``/mcp`` on the HTTP app: the MCP server's streamable HTTP endpoint, built on first use.

The MCP SDK takes about a second to import, which a server that is never asked over MCP
should not pay at start (``make bench`` times the start to the first answer). So this
endpoint builds the server (``bot.mcp_server``) on the first request to ``/mcp``, in a
worker thread, and runs the SDK's session manager in a task group that the app's lifespan
owns (``running``). Sessions are stateless (each request stands alone; a follow-up names
its conversation), so any worker can take any request. Without API keys only loopback
host names are served (the SDK's DNS-rebinding guard).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from advisor import Advisor
from bot.middleware import MCP_PATH


class McpEndpoint:
    """An ASGI app for ``/mcp``; enter ``running()`` in the app's lifespan."""

    def __init__(self, advisor: Advisor, keyed: bool) -> None:
        self.advisor, self.keyed = advisor, keyed
        self._app: Any = None
        self._group: anyio.abc.TaskGroup | None = None
        self._lock = anyio.Lock()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Own the task group the session manager will run in; cancel it at shutdown."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield
            finally:
                group.cancel_scope.cancel()
                self._app = self._group = None  # a restarted app builds its own

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._app is None:
            async with self._lock:
                if self._app is None:
                    self._app = await self._start()
        await self._app(scope, receive, send)

    async def _start(self) -> Any:
        from mcp.server.transport_security import TransportSecuritySettings

        from bot.mcp_server import build_mcp

        if self._group is None:
            raise RuntimeError("the MCP endpoint is not running (enter running() first)")
        server = await anyio.to_thread.run_sync(build_mcp, self.advisor)
        # With API keys, a page that rebinds a name to this server has no key to send, and
        # the public host name is the deployment's: the SDK's loopback-only Host and Origin
        # check stays off. Without keys it is on, as the SDK sets it for a local server.
        loopback = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"],
        )
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,  # one JSON reply per call: no SSE framing to pay for
            transport_security=security if self.keyed else loopback,
        )
        await self._group.start(_serve, server)
        return app


async def _serve(server: Any, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    async with server.session_manager.run():
        task_status.started()
        await anyio.sleep_forever()
