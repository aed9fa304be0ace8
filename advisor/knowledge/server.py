"""Chroma client/server: index generations as collections on a shared ``chroma run`` server.

With ``ADVISOR_CHROMA_URL`` set, every app process, on any host, reads one index. Generation
``gen-NNNNNN`` is the collection ``<collection>-gen-NNNNNN``; the collection
``<collection>-meta`` holds each generation's manifest and the ``CURRENT`` record naming
the serving one. An ingest fills a new collection, checks it, and only then rewrites
``CURRENT``: readers never see a half-built index, as with the local folder layout.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from advisor.config import Settings
from advisor.errors import ConfigError, EmbeddingError, IndexingError, IndexNotReadyError

if TYPE_CHECKING:
    from advisor.corpus import Passage
    from advisor.index import IngestReport

log = logging.getLogger(__name__)
POINTER = "CURRENT"
_UNIT = [1.0]  # the meta collection holds records, not vectors, but Chroma wants a vector
_BATCH = 256
_clients: dict[str, Any] = {}
_pointers: dict[tuple[str, str], tuple[float, str | None]] = {}
_lock = threading.Lock()


def client(settings: Settings) -> Any:
    """The process's HttpClient for the configured server (one per URL, shared by threads)."""
    url = settings.chroma_url or ""
    with _lock:
        found = _clients.get(url)
    if found is not None:
        return found
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"ADVISOR_CHROMA_URL must be http(s)://host:port, not {url!r}")
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    https = parts.scheme == "https"
    try:
        made = chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if https else 8000),
            ssl=https,
            settings=ChromaSettings(anonymized_telemetry=False),
        )
    except Exception as exc:  # connection refused, DNS, TLS: all mean "not reachable"
        raise IndexNotReadyError(f"cannot reach the Chroma server at {url}: {exc}") from exc
    with _lock:
        return _clients.setdefault(url, made)


def collection_name(settings: Settings, generation: str) -> str:
    """The Chroma collection holding one generation."""
    return f"{settings.collection}-{generation}"


def _meta(c: Any, settings: Settings) -> Any:
    return c.get_or_create_collection(f"{settings.collection}-meta")


def _document(meta: Any, record: str) -> str | None:
    got = meta.get(ids=[record], include=["documents"])
    docs = got.get("documents") or []
    return docs[0] if docs else None


def read_current(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The serving generation's name and manifest, or IndexNotReadyError."""
    url = settings.chroma_url
    try:
        meta = _meta(client(settings), settings)
        name = _document(meta, POINTER)
        raw = _document(meta, f"manifest:{name}") if name else None
    except (IndexNotReadyError, ConfigError):
        raise
    except Exception as exc:
        raise IndexNotReadyError(f"cannot read the index on the server {url}: {exc}") from exc
    if not name:
        raise IndexNotReadyError(f"no index on the Chroma server {url} yet: run `advisor ingest`")
    try:
        manifest = json.loads(raw or "")
    except ValueError as exc:
        raise IndexNotReadyError(
            f"the index manifest on {url} is damaged ({exc}): run `advisor ingest`"
        ) from exc
    return name, manifest


def current_name(settings: Settings) -> str | None:
    """The serving generation's name, asked of the server at most every index_poll_seconds."""
    key = (settings.chroma_url or "", settings.collection)
    now = time.monotonic()
    with _lock:
        seen = _pointers.get(key)
    if seen is not None and now - seen[0] < settings.index_poll_seconds:
        return seen[1]
    try:
        name = _document(_meta(client(settings), settings), POINTER)
    except Exception:  # keep serving what is loaded; readiness reports an unreachable server
        log.debug("could not read the index pointer", exc_info=True)
        name = seen[1] if seen else None
    with _lock:
        _pointers[key] = (now, name)
    return name


def open_collection(settings: Settings, generation: str) -> Any:
    """The client serving a generation (the collection must exist)."""
    c = client(settings)
    try:
        c.get_collection(collection_name(settings, generation))
    except Exception as exc:
        raise IndexNotReadyError(
            f"index {generation} is missing on {settings.chroma_url} ({exc}): run `advisor ingest`"
        ) from exc
    return c


def check(settings: Settings, generation: str, expected: int) -> str:
    """Why a generation cannot serve ("" if it can): every passage there, each its own match."""
    from advisor.index import collection_damage

    try:
        coll = client(settings).get_collection(collection_name(settings, generation))
        return collection_damage(coll, expected)
    except Exception as exc:
        return f"it cannot be opened or searched: {exc}"


def _generations(c: Any, settings: Settings) -> list[str]:
    prefix = f"{settings.collection}-gen-"
    names = [getattr(col, "name", col) for col in c.list_collections()]
    return sorted(n.removeprefix(f"{settings.collection}-") for n in names if n.startswith(prefix))


def ingest_remote(
    settings: Settings,
    passages: list[Passage],
    docs_meta: dict[str, Any],
    embedder: Any,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None,
) -> IngestReport:
    """Bring the server's index in line with the corpus; on any error the old one serves."""
    try:
        return _ingest(settings, passages, docs_meta, embedder, progress)
    except (EmbeddingError, IndexingError, ConfigError):
        raise
    except Exception as exc:
        raise IndexingError(f"indexing on {settings.chroma_url} failed: {exc}") from exc


def _ingest(
    settings: Settings,
    passages: list[Passage],
    docs_meta: dict[str, Any],
    embedder: Any,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None,
) -> IngestReport:
    from advisor.index import IngestReport, new_manifest, passage_hash

    started = time.perf_counter()
    wanted = {p.key: passage_hash(p) for p in passages}
    c = client(settings)
    meta = _meta(c, settings)
    repaired, usable = "", False
    try:
        old_name, old = read_current(settings)
        damage = check(settings, old_name, len(old["passages"]))
        if damage:
            log.warning("index %s is damaged (%s); rebuilding it", old_name, damage)
            repaired, old = f"{old_name}: {damage}", {"passages": {}}
        usable = not damage
    except IndexNotReadyError as exc:
        old = {"passages": {}}
        old_name = (_generations(c, settings) or [""])[-1]
        if _document(meta, POINTER):
            repaired = str(exc)
    same_setup = old.get("embedder") == settings.embedder and old.get("embedding_model") == (
        settings.embedding_model or ""
    )
    have = old["passages"] if same_setup and usable else {}
    added = sum(1 for k in wanted if k not in have)
    updated = sum(1 for k, h in wanted.items() if k in have and have[k] != h)
    deleted = sum(1 for k in have if k not in wanted)
    skipped = len(wanted) - added - updated
    if usable and same_setup and not (added or updated or deleted):
        if old.get("docs") != docs_meta:
            _put(meta, f"manifest:{old_name}", json.dumps({**old, "docs": docs_meta}))
        return IngestReport(0, 0, 0, skipped, old_name, time.perf_counter() - started)

    number = int(old_name.split("-")[-1]) + 1 if old_name else 1
    name = f"gen-{number:06d}"
    target = collection_name(settings, name)
    _drop(c, meta, settings, name)  # a leftover of a killed ingest
    new = c.create_collection(target, metadata={"hnsw:space": "cosine"})
    try:
        keep = [k for k, h in wanted.items() if have.get(k) == h]
        if keep:
            source = c.get_collection(collection_name(settings, old_name))
            for i in range(0, len(keep), _BATCH):
                got = source.get(
                    ids=keep[i : i + _BATCH], include=["embeddings", "documents", "metadatas"]
                )
                new.add(
                    ids=got["ids"],
                    embeddings=got["embeddings"],
                    documents=got["documents"],
                    metadatas=got["metadatas"],
                )
        kept = set(keep)
        fresh = [p for p in passages if p.key not in kept]
        batches = [fresh[i : i + 64] for i in range(0, len(fresh), 64)]
        steps: Iterable[list[Passage]] = batches
        if progress is not None:
            steps = progress(batches, len(batches))
        for batch in steps:
            new.add(
                ids=[p.key for p in batch],
                embeddings=embedder.embed_documents([p.text for p in batch]),
                documents=[p.text for p in batch],
                metadatas=[p.metadata() for p in batch],
            )
        _put(meta, f"manifest:{name}", json.dumps(new_manifest(settings, wanted, docs_meta)))
        damage = check(settings, name, len(wanted))
        if damage:
            raise IndexingError(f"the new index failed its check ({damage}), previous kept")
    except Exception:
        _drop(c, meta, settings, name)
        raise
    _put(meta, POINTER, name)
    # Keep the previous generation: other processes may still be reading it.
    for stale in _generations(c, settings):
        if stale not in (name, old_name):
            _drop(c, meta, settings, stale)
    seconds = time.perf_counter() - started
    return IngestReport(added, updated, deleted, skipped, name, seconds, repaired)


def _put(meta: Any, record: str, text: str) -> None:
    meta.upsert(ids=[record], documents=[text], embeddings=[_UNIT])


def _drop(c: Any, meta: Any, settings: Settings, generation: str) -> None:
    try:
        c.delete_collection(collection_name(settings, generation))
    except Exception:  # absent already: nothing to drop
        log.debug("no collection for %s", generation, exc_info=True)
    meta.delete(ids=[f"manifest:{generation}"])
