"""Session-wide PostgreSQL and Chroma servers for the scale-out tests, and a database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers import (
    ServerUnavailable,
    chroma_executable,
    chroma_server,
    fresh_database,
    postgres_bindir,
    postgres_server,
)


def _unavailable(why: str) -> None:
    # `make test` sets ADVISOR_REQUIRE_SCALEOUT_TESTS, so there a missing server is a failure.
    if os.environ.get("ADVISOR_REQUIRE_SCALEOUT_TESTS") == "1":
        pytest.fail(f"the scale-out tests cannot run: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session; the `advisor` database's URL."""
    try:
        postgres_bindir()
    except ServerUnavailable as exc:
        _unavailable(str(exc))
    with postgres_server() as url:
        yield url


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `chroma run` server for the session, its data in a temporary folder; its URL."""
    try:
        chroma_executable()
    except ServerUnavailable as exc:
        _unavailable(str(exc))
    with chroma_server(tmp_path_factory.mktemp("chroma")) as url:
        yield url


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A fresh, empty database for one test, so tests never see each other's rows; its URL."""
    with fresh_database(postgres_url) as url:
        yield url
