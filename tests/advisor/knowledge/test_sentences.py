"""Sentence vectors stored at ingest: exact, shared between processes, never re-embedded."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from advisor.config import Settings
from advisor.facade import Advisor
from advisor.knowledge.embeddings import embed_matrix
from advisor.knowledge.ingest import ingest
from advisor.knowledge.sentences import MAX_SEGMENTS, SentenceStore, fill, store_dir
from advisor.knowledge.snapshot import IndexSnapshot
from advisor.quoting import passage_units


def _rows(n: int, d: int = 4, seed: int = 0) -> np.ndarray:
    m = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_rows_come_back_by_text_across_segments_and_instances(tmp_path: Path) -> None:
    store = SentenceStore(tmp_path / "s")
    first, second = _rows(3), _rows(2, seed=1)
    store.add(["alpha", "beta", "gamma"], first)
    store.add(["delta", "alpha"], second)  # "alpha" again: either row is the same text's
    other = SentenceStore(tmp_path / "s")  # another process on the same folder
    assert other.get(["beta"]) == {}  # nothing read before a refresh
    other.refresh()
    got = other.get(["gamma", "delta", "nowhere"])
    assert set(got) == {"gamma", "delta"}
    assert np.array_equal(got["gamma"], first[2]) and np.array_equal(got["delta"], second[0])
    assert other.missing(["nowhere", "beta", "nowhere"]) == ["nowhere"]


def test_a_settled_folder_is_not_listed_again_until_a_segment_arrives(tmp_path: Path) -> None:
    """Refresh runs on every cache miss; an unchanged folder must cost a stat, not a listing,
    and a segment written after that must still be seen."""
    import os

    writer, reader = SentenceStore(tmp_path / "s"), SentenceStore(tmp_path / "s")
    writer.add(["alpha"], _rows(1))
    an_hour_ago = (tmp_path / "s").stat().st_mtime - 3600
    os.utime(tmp_path / "s", (an_hour_ago, an_hour_ago))
    reader.refresh()
    assert set(reader.get(["alpha"])) == {"alpha"}
    # A valid segment slipped in behind the folder's mtime is not seen: no listing ran.
    copies = []
    for part in ("keys", "vectors"):
        (original,) = (tmp_path / "s").glob(f"*.{part}.npy")
        copies.append(tmp_path / "s" / f"copy.{part}.npy")
        copies[-1].write_bytes(original.read_bytes())
    os.utime(tmp_path / "s", (an_hour_ago, an_hour_ago))
    reader.refresh()
    assert reader.segments == 1
    for copy in copies:
        copy.unlink()
    writer.add(["beta"], _rows(1, seed=1))  # a rename into the folder: a new mtime
    reader.refresh()
    assert set(reader.get(["alpha", "beta"])) == {"alpha", "beta"}


def test_many_segments_merge_and_compaction_drops_only_what_is_not_kept(tmp_path: Path) -> None:
    store = SentenceStore(tmp_path / "s")
    for i in range(MAX_SEGMENTS + 1):
        store.add([f"text {i}"], _rows(1, seed=i))
    assert len(list((tmp_path / "s").glob("*.keys.npy"))) == 1  # merged past the limit
    assert len(store) == MAX_SEGMENTS + 1
    from advisor.knowledge.sentences import sentence_key

    store.compact(keep={sentence_key("text 0"), sentence_key("text 3")})
    assert store.missing([f"text {i}" for i in range(5)]) == ["text 1", "text 2", "text 4"]
    assert np.array_equal(store.get(["text 3"])["text 3"], _rows(1, seed=3)[0])


def test_compacting_everything_away_leaves_an_empty_store_that_still_answers(
    tmp_path: Path,
) -> None:
    store = SentenceStore(tmp_path / "s")
    store.add(["alpha", "beta"], _rows(2))
    store.compact(keep=set())
    assert len(store) == 0 and store.missing(["alpha"]) == ["alpha"]
    store.add(["gamma"], _rows(1))
    assert set(store.get(["alpha", "gamma"])) == {"gamma"}


def test_a_damaged_segment_is_skipped_not_trusted(tmp_path: Path) -> None:
    store = SentenceStore(tmp_path / "s")
    store.add(["alpha"], _rows(1))
    (tmp_path / "s" / "seg-bad.keys.npy").write_bytes(b"not numpy")
    (tmp_path / "s" / "seg-bad.vectors.npy").write_bytes(b"not numpy")
    again = SentenceStore(tmp_path / "s")
    again.refresh()
    assert set(again.get(["alpha"])) == {"alpha"}


def test_fill_embeds_each_missing_unit_once(tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(texts)
        return _rows(len(texts))

    store = SentenceStore(tmp_path / "s")
    passages = ["The pilot ran for six weeks. It worked.", "The pilot ran for six weeks."]
    units = {u[0] for p in passages for u in passage_units(p)}
    assert fill(store, passages, embed) == len(units)
    assert fill(store, passages, embed) == 0
    assert sorted(t for c in calls for t in c) == sorted(units)


def test_ingest_stores_every_quotable_sentence_as_the_embedder_would(
    tmp_path: Path, corpus_copy: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    s = Settings(data_dir=tmp_path / "data", corpus_dir=corpus_copy,
                 database_url=f"sqlite:///{tmp_path / 'conv.db'}")  # fmt: skip
    ingest(s, embedder_factory=lambda: embedder)
    snapshot = IndexSnapshot(s, embedder)
    assert snapshot.manifest["sentences"] == store_dir(s.data_dir, embedder.name).name
    units = list(dict.fromkeys(u[0] for p in snapshot.passages for u in passage_units(p.text)))
    snapshot.close()
    store = SentenceStore(store_dir(s.data_dir, embedder.name))
    store.refresh()
    got = store.get(units)
    assert len(got) == len(units)
    sample = units[::25]
    direct = embed_matrix(embedder, sample)
    stored = np.stack([got[u] for u in sample])
    assert np.allclose(stored, direct, atol=1e-5)


def test_a_question_embeds_no_passage_sentence(tmp_path: Path, corpus_copy: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    s = Settings(data_dir=tmp_path / "data", corpus_dir=corpus_copy,
                 database_url=f"sqlite:///{tmp_path / 'conv.db'}")  # fmt: skip
    ingest(s, embedder_factory=lambda: embedder)
    seen: list[str] = []

    class Recording:  # the real model, under its own name, recording what it is asked
        name = embedder.name

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            seen.extend(texts)
            return embedder.embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return embedder.embed_query(text)

    advisor = Advisor(s, embedder=Recording())
    answer = advisor.ask("Who should own the CRM project?")
    assert answer.answered and answer.citations
    snapshot = advisor.searcher.snapshot
    units = {u[0] for p in snapshot.passages for u in passage_units(p.text)}
    assert not units & set(seen)
    advisor.close()
