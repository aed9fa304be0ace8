"""Index generations as collections on a shared ``chroma run`` server (``ADVISOR_CHROMA_URL``).

With ``ADVISOR_CHROMA_URL`` set, every app process, on any host, reads one index. Generation
``gen-NNNNNN`` is the collection ``<collection>-gen-NNNNNN``; the collection
``<collection>-meta`` holds each generation's manifest and the ``CURRENT`` record naming
the serving one. A new generation copies the unchanged passages' vectors from the serving
collection and embeds only the rest.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from advisor.config import Settings
from advisor.errors import ConfigError, IndexNotReadyError
from advisor.knowledge.corpus import Passage
from advisor.knowledge.embeddings import Embedder
from advisor.knowledge.generations import Progress, vector_store
from advisor.knowledge.manifest import collection_damage

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

    try:
        coll = client(settings).get_collection(collection_name(settings, generation))
        return collection_damage(coll, expected)
    except Exception as exc:
        return f"it cannot be opened or searched: {exc}"


def _generations(c: Any, settings: Settings) -> list[str]:
    prefix = f"{settings.collection}-gen-"
    names = [getattr(col, "name", col) for col in c.list_collections()]
    return sorted(n.removeprefix(f"{settings.collection}-") for n in names if n.startswith(prefix))


def _put(meta: Any, record: str, text: str) -> None:
    meta.upsert(ids=[record], documents=[text], embeddings=[_UNIT])


def _drop(c: Any, meta: Any, settings: Settings, generation: str) -> None:
    try:
        c.delete_collection(collection_name(settings, generation))
    except Exception:  # absent already: nothing to drop
        log.debug("no collection for %s", generation, exc_info=True)
    meta.delete(ids=[f"manifest:{generation}"])


class ServerGenerations:
    """Generations as collections on the configured Chroma server (see the module docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.where = f" on {settings.chroma_url}"

    def serving(self) -> str | None:
        """The pointer's name, asked of the server at most every ``index_poll_seconds``."""
        return current_name(self.settings)

    def current(self) -> tuple[str, dict[str, Any]]:
        """The serving generation's name and manifest, or IndexNotReadyError."""
        return read_current(self.settings)

    def has_pointer(self) -> bool:
        """True when the meta collection holds a ``CURRENT`` record."""
        return bool(_document(_meta(client(self.settings), self.settings), POINTER))

    def names(self) -> list[str]:
        """The generations' collections, oldest first."""
        return _generations(client(self.settings), self.settings)

    def newest(self) -> str:
        """The newest generation's name ("" if none)."""
        return (self.names() or [""])[-1]

    def check(self, name: str, expected: int) -> str:
        """Why a generation cannot serve ("" if it can)."""
        return check(self.settings, name, expected)

    def build(
        self,
        name: str,
        base: str | None,
        passages: list[Passage],
        unchanged: frozenset[str],
        embedder: Embedder,
        progress: Progress | None,
    ) -> None:
        """Create the collection, copy ``unchanged`` vectors from ``base``, embed the rest."""
        s = self.settings
        c = client(s)
        self.discard(name)  # a leftover of a killed ingest
        new = c.create_collection(collection_name(s, name), metadata={"hnsw:space": "cosine"})
        keep = [p.key for p in passages if p.key in unchanged] if base else []
        if keep:
            source = c.get_collection(collection_name(s, base or ""))
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

    def save_manifest(self, name: str, manifest: dict[str, Any]) -> None:
        """Store the manifest as a record of the meta collection."""
        _put(_meta(client(self.settings), self.settings), f"manifest:{name}", json.dumps(manifest))

    def switch(self, name: str) -> None:
        """Rewrite the ``CURRENT`` record."""
        _put(_meta(client(self.settings), self.settings), POINTER, name)

    def discard(self, name: str) -> None:
        """Drop the generation's collection and its manifest record."""
        c = client(self.settings)
        _drop(c, _meta(c, self.settings), self.settings, name)

    def open(self, name: str, embedder: Embedder) -> tuple[Any, Any]:
        """The shared client and a store over the generation's collection."""
        c = open_collection(self.settings, name)
        return c, vector_store(c, collection_name(self.settings, name), embedder, create=False)

    def release(self, client: Any) -> None:
        """Nothing to do: the process shares one client per server."""
