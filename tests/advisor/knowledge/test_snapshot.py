"""The serving snapshot: read from Chroma once, then from the copy it saves."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from advisor.config import Settings
from advisor.knowledge.ingest import ingest
from advisor.knowledge.snapshot import IndexSnapshot, saved_dir


@pytest.fixture
def built(tmp_path: Path, corpus_copy: Path, embedder) -> Settings:  # type: ignore[no-untyped-def]
    """Settings over a fresh index of a copy of the corpus."""
    s = Settings(data_dir=tmp_path / "data", corpus_dir=corpus_copy,
                 database_url=f"sqlite:///{tmp_path / 'conv.db'}")  # fmt: skip
    ingest(s, embedder_factory=lambda: embedder)
    return s


def test_the_second_load_reads_the_saved_copy_with_the_same_content(
    built: Settings, embedder
) -> None:  # type: ignore[no-untyped-def]
    s = built
    first = IndexSnapshot(s, embedder)
    saved = saved_dir(s, first.manifest)
    assert (saved / "passages.json").is_file() and (saved / "embeddings.npy").is_file()
    second = IndexSnapshot(s, embedder)
    assert [(p.id, p.text, p.meta) for p in second.passages] == [
        (p.id, p.text, p.meta) for p in first.passages
    ]
    assert np.array_equal(second.embeddings, first.embeddings)
    assert second.by_doc == first.by_doc and second.kinds == first.kinds
    first.close()
    second.close()


def test_a_short_or_damaged_copy_is_not_trusted(built: Settings, embedder) -> None:  # type: ignore[no-untyped-def]
    s = built
    first = IndexSnapshot(s, embedder)
    saved = saved_dir(s, first.manifest)
    rows = json.loads((saved / "passages.json").read_text(encoding="utf-8"))
    (saved / "passages.json").write_text(json.dumps(rows[:-1]), encoding="utf-8")
    assert len(IndexSnapshot(s, embedder).passages) == len(first.passages)  # read from Chroma
    shutil.rmtree(saved)
    saved.mkdir()
    (saved / "passages.json").write_text("{not json", encoding="utf-8")
    (saved / "embeddings.npy").write_bytes(b"nope")
    again = IndexSnapshot(s, embedder)
    assert [p.id for p in again.passages] == [p.id for p in first.passages]
    first.close()
    again.close()


def test_a_changed_corpus_is_saved_under_another_key(
    built: Settings, corpus_copy: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    s = built
    before = IndexSnapshot(s, embedder)
    (corpus_copy / "notes" / "weak-integration.md").unlink()
    ingest(s, embedder_factory=lambda: embedder)
    after = IndexSnapshot(s, embedder)
    assert saved_dir(s, after.manifest) != saved_dir(s, before.manifest)
    assert "note-weak-integration" not in after.by_doc
    assert len(after.passages) < len(before.passages)
    before.close()
    after.close()


def test_the_saved_copy_is_keyed_by_the_index_home(tmp_path: Path) -> None:
    manifest = {"passages": {"a#0": "1"}, "embedder": "minilm", "embedding_model": ""}
    local = Settings(data_dir=tmp_path, chroma_url=None)
    server = Settings(data_dir=tmp_path, chroma_url="http://127.0.0.1:8001")
    # A Chroma server's ids differ from the local home's: never read one for the other.
    assert saved_dir(local, manifest) != saved_dir(server, manifest)


def test_chroma_is_read_in_pages_with_the_same_result(
    built: Settings, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    # One `get` of 100,000 records binds more SQL variables than SQLite allows, so the
    # first load pages through the collection; a page size that does not divide the
    # count must give what one read gives.
    import advisor.knowledge.snapshot as snapshot

    whole = IndexSnapshot(built, embedder)
    shutil.rmtree(saved_dir(built, whole.manifest))
    monkeypatch.setattr(snapshot, "READ_PAGE", 7)
    paged = IndexSnapshot(built, embedder)
    assert len(paged.passages) == len(whole.passages) > 7
    assert [(p.id, p.text, p.meta) for p in paged.passages] == [
        (p.id, p.text, p.meta) for p in whole.passages
    ]
    assert np.array_equal(paged.embeddings, whole.embeddings)
    whole.close()
    paged.close()
