"""A real uvicorn server on loopback around a test's Advisor, and an HTTP client for it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import httpx
import pytest
import uvicorn

from advisor.config import Settings
from advisor.facade import Advisor
from bot.settings import DoorSettings


def doors(**values: object) -> DoorSettings:
    """Front-door settings with these values; the rest as defaults (tests set no ADVISOR_*)."""
    return DoorSettings(**values)  # type: ignore[arg-type]


def split(overrides: dict[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """Overrides for the core's settings and for the front doors', by field name."""
    door = {k: v for k, v in overrides.items() if k in DoorSettings.model_fields}
    return {k: v for k, v in overrides.items() if k not in door}, door


@contextmanager
def live_server(
    settings: Settings, advisor: Advisor, front: DoorSettings | None = None
) -> Iterator[str]:
    """Serve create_app(settings, advisor, front) on a free loopback port; yield its URL."""
    from bot.app import create_app

    config = uvicorn.Config(
        create_app(settings, advisor, front or doors()),
        host="127.0.0.1",
        port=0,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


Serve = Callable[..., AbstractContextManager[str]]


@pytest.fixture
def serve(settings: Settings, embedder) -> Serve:  # type: ignore[no-untyped-def]
    """Start a server; keyword arguments override settings (core or front-door), ``advisor=``
    replaces the default."""

    def start(advisor: Advisor | None = None, **overrides: object) -> AbstractContextManager[str]:
        core, door = split(overrides)
        custom = settings.model_copy(update=core) if core else settings
        return live_server(custom, advisor or Advisor(custom, embedder=embedder), doors(**door))

    return start


@pytest.fixture
def base_url(serve: Serve, advisor: Advisor) -> Iterator[str]:
    """A server with default settings around the test's advisor."""
    with serve(advisor=advisor) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client for that server."""
    with httpx.Client(base_url=base_url, timeout=60) as c:
        yield c


def get(url: str, **kwargs: object) -> httpx.Response:
    """GET with a timeout that suits a loaded 2-core CI machine."""
    return httpx.request("GET", url, timeout=60, **kwargs)  # type: ignore[arg-type]


def post(url: str, **kwargs: object) -> httpx.Response:
    """POST with the same generous timeout."""
    return httpx.request("POST", url, timeout=60, **kwargs)  # type: ignore[arg-type]


def options(url: str, **kwargs: object) -> httpx.Response:
    """OPTIONS (a CORS preflight) with the same timeout."""
    return httpx.request("OPTIONS", url, timeout=60, **kwargs)  # type: ignore[arg-type]


def ready(url: str, within: float = 120.0) -> dict[str, object]:
    """/readyz once the warm-up has finished (it says "loading" until then)."""
    deadline = time.monotonic() + within
    while True:
        r = get(f"{url}/readyz")
        if r.status_code == 200 or time.monotonic() > deadline:
            assert r.status_code == 200, r.text
            body: dict[str, object] = r.json()
            return body
        time.sleep(0.1)
