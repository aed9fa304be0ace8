"""Shared fixtures: real model, real Chroma, every data path under tmp_path."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from advisor.config import PROJECT_ROOT, Settings, get_settings


@pytest.fixture(scope="session", autouse=True)
def _shared_review_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One plan-review model folder for the session, and for the servers tests start.

    Models are named by a digest of their inputs, so sharing is safe; without it every data
    folder (and every server process) would train the classifier again.
    """
    before = os.environ.get("ADVISOR_REVIEW_MODEL_DIR")
    # `make test` names one folder for both of its pytest sessions (ADVISOR_TEST_...).
    shared = os.environ.get("ADVISOR_TEST_REVIEW_MODEL_DIR")
    folder = shared or str(tmp_path_factory.mktemp("review-models"))
    os.environ["ADVISOR_REVIEW_MODEL_DIR"] = folder
    yield
    if before is None:
        os.environ.pop("ADVISOR_REVIEW_MODEL_DIR", None)
    else:
        os.environ["ADVISOR_REVIEW_MODEL_DIR"] = before


@pytest.fixture(autouse=True)
def _isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point every data path at tmp_path, so no test touches .advisor/ or another test."""
    monkeypatch.setenv("ADVISOR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ADVISOR_DATABASE_URL", raising=False)
    monkeypatch.delenv("ADVISOR_CORPUS_DIR", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def embedder():  # type: ignore[no-untyped-def]
    """The real all-MiniLM-L6-v2, loaded once for the session."""
    from advisor.knowledge.embeddings import make_embedder

    return make_embedder(Settings(data_dir=Path("unused")))


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:  # type: ignore[no-untyped-def]
    """A data dir holding an index of the shipped corpus, built once per session."""
    from advisor.knowledge.ingest import ingest

    data = tmp_path_factory.mktemp("shared-index")
    ingest(Settings(data_dir=data), embedder_factory=lambda: embedder)
    return data


@pytest.fixture(scope="session")
def backend_servers(
    tmp_path_factory: pytest.TempPathFactory, index_dir: Path, embedder
) -> Iterator[dict[str, str] | None]:  # type: ignore[no-untyped-def]
    """With ADVISOR_TEST_BACKEND=servers: a Chroma server holding the index, and PostgreSQL."""
    if os.environ.get("ADVISOR_TEST_BACKEND", "local") != "servers":
        yield None
        return
    from advisor.knowledge.ingest import ingest
    from tests.servers import chroma_server, postgres_server

    with chroma_server(tmp_path_factory.mktemp("chroma")) as chroma, postgres_server() as pg:
        ingest(Settings(data_dir=index_dir, chroma_url=chroma), embedder_factory=lambda: embedder)
        yield {"chroma_url": chroma, "database_url": pg}


@pytest.fixture
def settings(
    index_dir: Path, tmp_path: Path, backend_servers: dict[str, str] | None
) -> Iterator[Settings]:
    """Settings reading the shared index, with a private conversation database."""
    if backend_servers is None:
        yield Settings(data_dir=index_dir, database_url=f"sqlite:///{tmp_path / 'conv.db'}")
        return
    from tests.servers import fresh_database

    with fresh_database(backend_servers["database_url"]) as url:
        yield Settings(
            data_dir=index_dir, database_url=url, chroma_url=backend_servers["chroma_url"]
        )


@pytest.fixture
def advisor(settings: Settings, embedder):  # type: ignore[no-untyped-def]
    """An Advisor over the shared index and the real model."""
    from advisor.facade import Advisor

    return Advisor(settings, embedder=embedder)


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus."""
    target = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", target)
    return target


@pytest.fixture(scope="session")
def llm_url() -> Iterator[str]:
    """A real llama.cpp server running Gemma 3 270M, shared by the session; its /v1 URL."""
    from tests.llm_server import llama_server

    with llama_server() as (url, _):
        yield url


@pytest.fixture
def llm_settings(settings: Settings, llm_url: str) -> Settings:
    """Settings that send answers through the real server's OpenAI-compatible API."""
    from tests.llm_server import MODEL_ALIAS

    # A short reply keeps the tests quick; a long deadline keeps a busy CI machine from
    # turning a slow answer into a fallback that the test did not ask for.
    return settings.model_copy(
        update={
            "llm": "openai",
            "llm_base_url": llm_url,
            "llm_model": MODEL_ALIAS,
            "llm_max_tokens": 160,
            "llm_timeout": 120,
            "llm_deadline": 180,
            "llm_system_role": False,  # Gemma's chat template drops system messages
        }
    )
