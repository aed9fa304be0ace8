"""``/mcp`` on the HTTP app: the MCP server's streamable HTTP endpoint, built on first use.

The MCP SDK takes about a second to import, which a server that is never asked over MCP
should not pay at start (``make bench`` times the start to the first answer). So this
endpoint builds the server (``bot.mcp_server``) on the first request to ``/mcp``, in a
worker thread, and runs the SDK's session manager in a task group that the app's lifespan
owns (``running``). Sessions are stateless (each request stands alone; a follow-up names
its conversation), so any worker can take any request.
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

    def __init__(self, advisor: Advisor) -> None:
        self.advisor = advisor
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
        # The endpoint sits behind the API keys and CORS policy of /v1, and the public
        # host name is the deployment's, so the SDK's localhost-only Host check stays off.
        app = server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        await self._group.start(_serve, server)
        return app


async def _serve(server: Any, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
    async with server.session_manager.run():
        task_status.started()
        await anyio.sleep_forever()
