"""The index on a real `chroma run` server: incremental ingest, switch-over, repair, outages."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import chromadb
import pytest

from advisor.config import Settings
from advisor.errors import EmbeddingError, IndexingError, IndexNotReadyError
from advisor.facade import Advisor
from advisor.knowledge.ingest import ingest
from advisor.knowledge.server import collection_name
from advisor.knowledge.snapshot import IndexSnapshot, read_current
from advisor.quoting import passage_units
from evals.harness import questions


def _settings(tmp_path: Path, corpus: Path, chroma_url: str, **extra: Any) -> Settings:
    # A collection name of its own, so tests sharing the server never see each other.
    return Settings(
        data_dir=tmp_path / "data",
        corpus_dir=corpus,
        database_url=f"sqlite:///{tmp_path / 'conv.db'}",
        chroma_url=chroma_url,
        collection=f"t{uuid.uuid4().hex[:12]}",
        **extra,
    )


def _server(url: str) -> Any:
    host, port = url.removeprefix("http://").split(":")
    return chromadb.HttpClient(host=host, port=int(port))


def test_incremental_ingest_on_the_server(
    tmp_path: Path, corpus_copy: Path, embedder: Any, chroma_url: str
) -> None:
    s = _settings(tmp_path, corpus_copy, chroma_url)
    first = ingest(s, embedder_factory=lambda: embedder)
    assert first.added > 50 and (first.updated, first.deleted, first.skipped) == (0, 0, 0)
    again = ingest(s, embedder_factory=lambda: embedder)
    assert (again.added, again.updated, again.deleted, again.generation) == (
        0,
        0,
        0,
        first.generation,
    )
    assert not (tmp_path / "data" / "index").exists()  # nothing written locally

    note = corpus_copy / "notes" / "no-resources.md"
    note.write_text(
        note.read_text(encoding="utf-8").replace("contingency", "reserve funding", 1), "utf-8"
    )
    (corpus_copy / "notes" / "weak-integration.md").unlink()
    embedded: list[int] = []

    class Counting:
        name = embedder.name  # the same model: its stored sentence vectors are reused

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            embedded.append(len(texts))
            return embedder.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    third = ingest(s, embedder_factory=Counting)
    assert (third.updated, third.deleted, third.added) == (1, 4, 0)
    snapshot = IndexSnapshot(s, embedder)
    # Unchanged passages were copied with their vectors: the changed passage, then the
    # quotable sentences that hold the change, are all that is embedded.
    changed = [p for p in snapshot.passages if "reserve funding" in p.text]
    new_units = {u[0] for p in changed for u in passage_units(p.text) if "reserve funding" in u[0]}
    assert embedded == [1, len(new_units)] and new_units
    assert snapshot.generation == third.generation != first.generation
    assert len(snapshot.passages) == first.added - 4
    assert any("funding" in p.text for p in snapshot.passages if p.doc_id == "note-no-resources")
    # The previous generation stays for readers still on it; older ones are dropped.
    names = {c.name for c in _server(chroma_url).list_collections()}
    assert {collection_name(s, g) for g in (first.generation, third.generation)} <= names


def test_answers_match_the_local_index(
    settings: Settings, embedder: Any, chroma_url: str, tmp_path: Path
) -> None:
    s = settings.model_copy(update={"chroma_url": chroma_url, "collection": "parity"})
    ingest(s, embedder_factory=lambda: embedder)
    local, served = Advisor(settings, embedder=embedder), Advisor(s, embedder=embedder)
    for q in questions()[:12]:
        a, b = local.ask(q), served.ask(q)
        assert (b.answer, b.answered) == (a.answer, a.answered), q
        assert [c.doc_id for c in b.citations] == [c.doc_id for c in a.citations]
    assert served.generation and served.searcher.snapshot.remote


def test_a_running_advisor_picks_up_a_new_generation(
    tmp_path: Path, corpus_copy: Path, embedder: Any, chroma_url: str
) -> None:
    s = _settings(tmp_path, corpus_copy, chroma_url, index_poll_seconds=0)
    first = ingest(s, embedder_factory=lambda: embedder)
    advisor = Advisor(s, embedder=embedder)
    assert "Zanzibar" not in advisor.ask("Who should own the CRM project?").answer
    assert advisor.generation == first.generation
    (corpus_copy / "notes" / "zz-owner.md").write_text(
        "---\nid: note-zz-owner\ntitle: Ownership at Zanzibar Freight\nkind: note\n"
        "pattern: ownership_politics\nsources: [gartner-crm-summit-2000]\n---\n\n"
        "## Who owns the CRM project\n"
        "At Zanzibar Freight the sales director owns the CRM project and chairs its board.\n",
        encoding="utf-8",
    )
    second = ingest(s, embedder_factory=lambda: embedder)
    assert second.added >= 1
    advisor.ask("Who should own the CRM project?")
    assert advisor.generation == second.generation


def test_a_deleted_generation_is_rebuilt_by_ingest(
    tmp_path: Path, corpus_copy: Path, embedder: Any, chroma_url: str
) -> None:
    s = _settings(tmp_path, corpus_copy, chroma_url)
    first = ingest(s, embedder_factory=lambda: embedder)
    _server(chroma_url).delete_collection(collection_name(s, first.generation))
    with pytest.raises(IndexNotReadyError, match="advisor ingest"):
        IndexSnapshot(s, embedder)
    fixed = ingest(s, embedder_factory=lambda: embedder)
    assert fixed.repaired and fixed.added == first.added
    assert fixed.generation != first.generation
    assert len(IndexSnapshot(s, embedder).passages) == first.added


def test_a_failed_ingest_leaves_the_serving_generation(
    tmp_path: Path, corpus_copy: Path, embedder: Any, chroma_url: str
) -> None:
    s = _settings(tmp_path, corpus_copy, chroma_url)
    first = ingest(s, embedder_factory=lambda: embedder)
    (corpus_copy / "notes" / "no-resources.md").write_text(
        (corpus_copy / "notes" / "no-resources.md").read_text("utf-8") + "\nMore words.\n", "utf-8"
    )

    class Broken:
        name = "broken"

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise EmbeddingError("the model fell over")

        def embed_query(self, text: str) -> list[float]:
            raise EmbeddingError("the model fell over")

    with pytest.raises(EmbeddingError):
        ingest(s, embedder_factory=Broken)
    name, _ = read_current(s)
    assert name == first.generation
    left = {c.name for c in _server(chroma_url).list_collections()}
    assert collection_name(s, "gen-000002") not in left  # the half-built one is gone
    assert len(IndexSnapshot(s, embedder).passages) == first.added


def test_an_unreachable_server_is_a_clear_error(
    tmp_path: Path, corpus_copy: Path, embedder: Any
) -> None:
    s = _settings(tmp_path, corpus_copy, "http://127.0.0.1:9")  # nothing listens on port 9
    with pytest.raises(IndexNotReadyError, match="Chroma server"):
        IndexSnapshot(s, embedder)
    with pytest.raises((IndexNotReadyError, IndexingError), match=r"127\.0\.0\.1:9"):
        ingest(s, embedder_factory=lambda: embedder)
    bad = s.model_copy(update={"chroma_url": "chroma:8000"})
    with pytest.raises(Exception, match="http"):
        IndexSnapshot(bad, embedder)
