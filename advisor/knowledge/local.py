"""The Chroma index: incremental, all-or-nothing ingest into index generations.

Local layout (the default) under ``<data_dir>/index``: ``CURRENT`` names the serving
generation; each ``gen-NNNNNN`` folder holds a Chroma database, the LangChain record manager and a
manifest. An ingest copies the serving generation, updates the copy with LangChain's
indexing API and only then moves ``CURRENT``, so a failed or killed ingest leaves the
previous index serving. With ``ADVISOR_CHROMA_URL`` the generations are collections on
a Chroma server instead (``advisor.remote``), shared by every app process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from advisor.config import Settings
from advisor.corpus import Passage, load_corpus, split_document
from advisor.embeddings import (
    EMBEDDERS,
    Embedder,
    SentenceTransformerEmbedder,
    VectorCache,
    embed_matrix,
    make_embedder,
)
from advisor.errors import EmbeddingError, IndexingError, IndexNotReadyError

__all__ = [
    "EMBEDDERS",
    "Embedder",
    "IndexSnapshot",
    "IndexedPassage",
    "IngestReport",
    "SentenceTransformerEmbedder",
    "VectorCache",
    "embed_matrix",
    "ingest",
    "make_embedder",
    "read_current",
    "serving_generation",
]

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class IngestReport:
    """What an ingest changed, counted in passages."""

    added: int
    updated: int
    deleted: int
    skipped: int
    generation: str
    seconds: float
    repaired: str = ""  # why the serving generation was unusable and so rebuilt, if it was

    def counts(self) -> dict[str, int]:
        """The four counts as a dict."""
        return {
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "skipped": self.skipped,
        }


def passage_hash(p: Passage) -> str:
    """A digest of a passage's text and metadata: a change means re-embedding it."""
    payload = json.dumps([p.text, p.metadata()], sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def _chroma_client(path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
    )


def _vector_store(client: Any, name: str, embedder: Any, create: bool = True) -> Any:
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=name,
        embedding_function=embedder,
        client=client,
        collection_metadata={"hnsw:space": "cosine"},
        create_collection_if_not_exists=create,
    )


def _release(client: Any) -> None:
    # Chroma caches one system per path; stop it so files are closed before a rename.
    try:
        client._system.stop()
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # best effort: a leak here only costs file handles
        log.debug("could not release chroma client", exc_info=True)


class _LazyEmbedder:
    """Defers loading the model until a passage actually needs embedding."""

    def __init__(self, factory: Callable[[], Embedder]) -> None:
        self._factory = factory
        self._inner: Embedder | None = None
        self.embedded = 0

    def _get(self) -> Embedder:
        if self._inner is None:
            self._inner = self._factory()
        return self._inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return self._get().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._get().embed_query(text)


def serving_generation(settings: Settings) -> str | None:
    """The name of the generation that should serve now (None if unknown)."""
    if settings.chroma_url:
        from advisor import remote

        return remote.current_name(settings)
    try:
        return (settings.index_dir / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return None  # keep serving what is loaded; readiness reports the damage


def read_current(settings: Settings) -> tuple[str, Path | None, dict[str, Any]]:
    """The serving generation's name, folder (None on a server) and manifest."""
    if settings.chroma_url:
        from advisor import remote

        name, manifest = remote.read_current(settings)
        return name, None, manifest
    return _read_local(settings)


def _read_local(settings: Settings) -> tuple[str, Path, dict[str, Any]]:
    pointer = settings.index_dir / "CURRENT"
    if not pointer.exists():
        raise IndexNotReadyError("no index has been built yet: run `advisor ingest`")
    try:
        name = pointer.read_text(encoding="utf-8").strip()
        path = settings.index_dir / name
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexNotReadyError(
            f"the index is damaged ({exc}): run `advisor ingest` to rebuild it"
        ) from exc
    if manifest.get("version") != MANIFEST_VERSION or "passages" not in manifest:
        raise IndexNotReadyError("the index manifest is unreadable: run `advisor ingest`")
    return name, path, manifest


def ingest(
    settings: Settings,
    embedder_factory: Callable[[], Embedder] | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> IngestReport:
    """Bring the index in line with the corpus; on any error the old index keeps serving."""
    started = time.perf_counter()
    docs = load_corpus(settings.corpus_dir)  # raises CorpusError before anything is written
    passages = [p for d in docs for p in split_document(d, settings.chunk_size)]
    wanted = {p.key: passage_hash(p) for p in passages}
    docs_meta = {
        d.id: {
            "title": d.title,
            "kind": d.kind,
            "path": str(d.path.relative_to(settings.corpus_dir)),
            **{k: v for k, v in d.meta.items() if k not in ("id", "title", "kind")},
            "passages": sum(1 for p in passages if p.doc_id == d.id),
        }
        for d in docs
    }
    factory = embedder_factory or (lambda: make_embedder(settings))
    embedder = _LazyEmbedder(factory)
    if settings.chroma_url:
        from advisor.remote import ingest_remote

        return ingest_remote(settings, passages, docs_meta, embedder, progress)
    repaired = ""
    old_path: Path | None
    try:
        old_name, old_path, old = _read_local(settings)
        damage = check_generation(old_path, settings, len(old["passages"]))
        if damage:
            # Nothing in a damaged generation can be trusted or copied: rebuild in full.
            log.warning("index %s is damaged (%s); rebuilding it", old_name, damage)
            repaired, old_path, old = f"{old_name}: {damage}", None, {"passages": {}}
    except IndexNotReadyError as exc:
        # A new number past any existing folder, so no generation is written over.
        old_name, old_path, old = _last_generation(settings), None, {"passages": {}}
        if (settings.index_dir / "CURRENT").exists():
            repaired = str(exc)
    same_setup = old.get("embedder") == settings.embedder and old.get("embedding_model") == (
        settings.embedding_model or ""
    )
    have = old["passages"] if same_setup else {}
    added = sum(1 for k in wanted if k not in have)
    updated = sum(1 for k, h in wanted.items() if k in have and have[k] != h)
    deleted = sum(1 for k in have if k not in wanted)
    skipped = len(wanted) - added - updated
    if old_path is not None and same_setup and not (added or updated or deleted):
        if old.get("docs") != docs_meta:
            _write_json(old_path / "manifest.json", {**old, "docs": docs_meta})
        return IngestReport(0, 0, 0, skipped, old_name, time.perf_counter() - started)

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    number = int(old_name.split("-")[-1]) + 1 if old_name else 1
    name = f"gen-{number:06d}"
    path = settings.index_dir / name
    shutil.rmtree(path, ignore_errors=True)  # a leftover of a killed ingest
    try:
        if old_path is not None and same_setup:
            shutil.copytree(old_path, path)
        else:
            path.mkdir(parents=True)
        _index_into(path, passages, settings, embedder, progress)
        _write_json(path / "manifest.json", new_manifest(settings, wanted, docs_meta))
        damage = check_generation(path, settings, len(wanted))
        if damage:
            raise IndexingError(f"the new index failed its check ({damage}), previous kept")
    except Exception as exc:
        shutil.rmtree(path, ignore_errors=True)
        if isinstance(exc, EmbeddingError | IndexingError):
            raise
        raise IndexingError(f"indexing failed, previous index kept: {exc}") from exc
    _write_text_atomic(settings.index_dir / "CURRENT", name)
    # Keep the previous generation: a running server may still be reading it.
    for stale in settings.index_dir.glob("gen-*"):
        if stale.name not in (name, old_name):
            shutil.rmtree(stale, ignore_errors=True)
    seconds = time.perf_counter() - started
    return IngestReport(added, updated, deleted, skipped, name, seconds, repaired)


def new_manifest(
    settings: Settings, wanted: dict[str, str], docs_meta: dict[str, Any]
) -> dict[str, Any]:
    """What a generation records of itself: its setup, passage digests and documents."""
    return {
        "version": MANIFEST_VERSION,
        "created": time.time(),
        "embedder": settings.embedder,
        "embedding_model": settings.embedding_model or "",
        "collection": settings.collection,
        "passages": wanted,
        "docs": docs_meta,
    }


def _last_generation(settings: Settings) -> str:
    """The newest generation folder's name, so a rebuild never reuses a number."""
    names = sorted(p.name for p in settings.index_dir.glob("gen-*") if p.is_dir())
    return names[-1] if names else ""


def collection_damage(collection: Any, expected: int) -> str:
    """Why a Chroma collection cannot serve ("" if it can): all passages, each its own match."""
    count = collection.count()
    if count != expected:
        return f"it holds {count} passages, its manifest lists {expected}"
    if not count:
        return ""
    sample = collection.get(limit=1, include=["embeddings"])
    found = collection.query(query_embeddings=sample["embeddings"], n_results=1)
    if found["ids"][0][:1] != sample["ids"]:
        return "its vector search does not find a stored passage"
    return ""


def check_generation(path: Path, settings: Settings, expected: int) -> str:
    """Why a generation cannot serve ("" if it can): every passage there, each its own match."""
    client = None
    try:
        client = _chroma_client(path / "chroma")
        damage = collection_damage(client.get_collection(settings.collection), expected)
        if damage or not expected:
            return damage
        # The record manager's ledger is what the next incremental ingest trusts.
        with closing(sqlite3.connect(f"file:{path / 'records.db'}?mode=ro", uri=True)) as db:
            (records,) = db.execute("SELECT count(*) FROM upsertion_record").fetchone()
        if records != expected:
            return f"its record ledger lists {records} passages, its manifest {expected}"
        return ""
    except Exception as exc:  # any failure to open or search means it cannot serve
        return f"it cannot be opened or searched: {exc}"
    finally:
        if client is not None:
            _release(client)


def _index_into(
    path: Path,
    passages: list[Passage],
    settings: Settings,
    embedder: _LazyEmbedder,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None,
) -> None:
    from langchain_classic.indexes import SQLRecordManager
    from langchain_core.documents import Document
    from langchain_core.indexing import index

    client = _chroma_client(path / "chroma")
    try:
        store = _vector_store(client, settings.collection, embedder)
        records = SQLRecordManager(
            f"chroma/{settings.collection}", db_url=f"sqlite:///{path / 'records.db'}"
        )
        records.create_schema()
        documents = [Document(page_content=p.text, metadata=p.metadata()) for p in passages]
        source: Iterable[Document] = documents
        if progress is not None:
            source = progress(documents, len(documents))
        index(
            source,
            records,
            store,
            cleanup="full",
            source_id_key="source",
            key_encoder="sha256",
            batch_size=64,
        )
        records.engine.dispose()
    finally:
        _release(client)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    _write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True))


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class IndexedPassage:
    """A passage as read back from the index."""

    id: str
    text: str
    meta: dict[str, Any]

    @property
    def doc_id(self) -> str:
        """The source document's id."""
        return str(self.meta.get("doc_id", ""))


class IndexSnapshot:
    """A read-only view of the serving generation: vector store, passages and embeddings."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.generation, self.path, self.manifest = read_current(settings)
        self.remote = self.path is None
        try:
            if self.path is None:
                from advisor import remote

                self._client = remote.open_collection(settings, self.generation)
                name = remote.collection_name(settings, self.generation)
            else:
                self._client = _chroma_client(self.path / "chroma")
                name = settings.collection
            self.store = _vector_store(self._client, name, embedder, create=False)
            got = self.store.get(include=["documents", "metadatas", "embeddings"])
        except IndexNotReadyError:
            raise
        except Exception as exc:  # a damaged file fails in Chroma in many ways, all alike
            raise IndexNotReadyError(
                f"the index cannot be opened ({exc}): run `advisor ingest`"
            ) from exc
        self.passages = [
            IndexedPassage(i, d, dict(m or {}))
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        if not self.passages:
            raise IndexNotReadyError("the index is empty: run `advisor ingest`")
        self.embeddings = np.asarray(got["embeddings"], dtype=np.float32)
        self.position = {p.id: i for i, p in enumerate(self.passages)}

    def close(self) -> None:
        """Release the Chroma client (a server's client stays: the process shares it)."""
        if not self.remote:
            _release(self._client)
