"""Ingest: incremental counts, all-or-nothing updates, the old index serving after failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advisor.config import Settings
from advisor.errors import CorpusError, EmbeddingError, IndexNotReadyError
from advisor.facade import Advisor
from advisor.knowledge.ingest import ingest
from advisor.knowledge.snapshot import IndexSnapshot, read_current


def _settings(tmp_path: Path, corpus: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        corpus_dir=corpus,
        database_url=f"sqlite:///{tmp_path / 'conv.db'}",
    )


def test_incremental_ingest_counts(tmp_path: Path, corpus_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    s = _settings(tmp_path, corpus_copy)
    first = ingest(s, embedder_factory=lambda: embedder)
    assert first.added > 50 and first.updated == first.deleted == first.skipped == 0

    second = ingest(s, embedder_factory=lambda: embedder)
    assert (second.added, second.updated, second.deleted) == (0, 0, 0)
    assert second.skipped == first.added
    assert second.generation == first.generation  # nothing rewritten

    note = corpus_copy / "notes" / "no-resources.md"
    text = note.read_text(encoding="utf-8")
    assert text.count("contingency") >= 1
    note.write_text(text.replace("contingency", "reserve funding", 1), encoding="utf-8")
    (corpus_copy / "notes" / "weak-integration.md").unlink()
    third = ingest(s, embedder_factory=lambda: embedder)
    assert third.updated == 1
    assert third.deleted == 4  # the removed note's passages
    assert third.added == 0
    snapshot = IndexSnapshot(s, embedder)
    assert len(snapshot.passages) == first.added - 4
    assert "note-weak-integration" not in {p.doc_id for p in snapshot.passages}
    assert any("funding" in p.text for p in snapshot.passages if p.doc_id == "note-no-resources")
    snapshot.close()


def test_a_document_cut_short_loses_its_last_passages(
    tmp_path: Path, corpus_copy: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    s = _settings(tmp_path, corpus_copy)
    first = ingest(s, embedder_factory=lambda: embedder)
    note = corpus_copy / "notes" / "weak-integration.md"
    text = note.read_text(encoding="utf-8")
    cut = text[: text.rindex("\n## ")] + "\n"  # the last section goes; the rest is as it was
    note.write_text(cut, encoding="utf-8")
    report = ingest(s, embedder_factory=lambda: embedder)  # the new index passes its check
    assert report.deleted >= 1 and report.added == report.updated == 0
    snapshot = IndexSnapshot(s, embedder)
    assert len(snapshot.passages) == first.added - report.deleted
    kept = [p for p in snapshot.passages if p.doc_id == "note-weak-integration"]
    assert kept and all(p.text in cut for p in kept)
    snapshot.close()
    # ... and the next ingest, of another change, still succeeds on top of it.
    (corpus_copy / "notes" / "no-resources.md").unlink()
    assert ingest(s, embedder_factory=lambda: embedder).deleted >= 1


def test_unchanged_passages_are_not_re_embedded(
    tmp_path: Path, corpus_copy: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    s = _settings(tmp_path, corpus_copy)
    ingest(s, embedder_factory=lambda: embedder)

    calls: list[int] = []

    class Counting:
        name = embedder.name  # the same model: its stored sentence vectors are reused

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            calls.append(len(texts))
            return embedder.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    note = corpus_copy / "notes" / "no-measurement.md"
    text = note.read_text(encoding="utf-8")
    assert "recalculate ROI every quarter." in text
    note.write_text(
        text.replace("recalculate ROI every quarter.", "recalculate ROI every quarter, always."),
        encoding="utf-8",
    )
    report = ingest(s, embedder_factory=Counting)
    assert report.updated == 1 and report.added == 0
    # The changed passage, then its one changed quotable sentence; nothing else.
    assert calls == [1, 1]


def test_bad_file_keeps_the_old_index_serving(tmp_path: Path, corpus_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    s = _settings(tmp_path, corpus_copy)
    good = ingest(s, embedder_factory=lambda: embedder)
    (corpus_copy / "notes" / "broken.md").write_text("---\ntitle: [oops\n---\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"broken\.md"):
        ingest(s, embedder_factory=lambda: embedder)
    assert read_current(s)[0] == good.generation
    answer = Advisor(s, embedder=embedder).ask("Why is our CRM plan too broad?")
    assert answer.answered and answer.citations


def test_failure_mid_ingest_leaves_no_half_written_index(
    tmp_path: Path, corpus_copy: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    s = _settings(tmp_path, corpus_copy)
    good = ingest(s, embedder_factory=lambda: embedder)

    class Dying:
        name = "dying"

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            raise EmbeddingError("the model crashed half way")

        def embed_query(self, text: str) -> list[float]:
            raise EmbeddingError("the model crashed half way")

    note = corpus_copy / "notes" / "big-bang-rollout.md"
    text = note.read_text(encoding="utf-8")
    assert "no pilot to learn from first." in text
    note.write_text(
        text.replace("no pilot to learn from first.", "no pilot. Pilot first, then expand."),
        encoding="utf-8",
    )
    with pytest.raises(EmbeddingError):
        ingest(s, embedder_factory=Dying)
    assert read_current(s)[0] == good.generation
    assert sorted(p.name for p in s.index_dir.glob("gen-*")) == [good.generation]
    answer = Advisor(s, embedder=embedder).ask("How should we phase the CRM rollout?")
    assert answer.answered
    assert "Pilot first, then expand" not in " ".join(c.quote for c in answer.citations)
    retry = ingest(s, embedder_factory=lambda: embedder)
    assert retry.updated == 1


def test_missing_or_damaged_index_says_how_to_fix(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    s = Settings(data_dir=tmp_path / "empty")
    with pytest.raises(IndexNotReadyError, match="advisor ingest"):
        Advisor(s, embedder=embedder).ask("Who should own the CRM project?")
    s.index_dir.mkdir(parents=True)
    (s.index_dir / "CURRENT").write_text("gen-000042")
    with pytest.raises(IndexNotReadyError, match="damaged"):
        read_current(s)


def test_the_vector_cache_is_bounded_and_still_exact(embedder) -> None:  # type: ignore[no-untyped-def]
    """Past its capacity the least recently used text goes; what it returns is unchanged."""
    from advisor.knowledge.embeddings import VectorCache

    cache = VectorCache(embedder, capacity=3)
    texts = [f"CRM sentence number {n}" for n in range(5)]
    first = cache.vectors(texts[:3])
    cache.vectors(texts[:1])  # touch 0, so 1 is now the oldest
    cache.vectors(texts[3:])
    assert len(cache) == 3
    assert set(cache._cache) == {texts[0], texts[3], texts[4]}
    again = cache.vectors(texts[:3])  # 1 and 2 are embedded afresh, to the same vectors
    assert np.allclose(again, first, atol=1e-5)
