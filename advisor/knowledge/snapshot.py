"""The serving index as read by questions: a snapshot of one generation, reloaded on a switch."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from advisor.config import Settings
from advisor.errors import IndexNotReadyError
from advisor.knowledge.embeddings import Embedder, vector_space
from advisor.knowledge.files import keep_newest
from advisor.knowledge.generations import Generations
from advisor.knowledge.homes import make_generations
from advisor.knowledge.manifest import content_digest

log = logging.getLogger(__name__)
READ_PAGE = 5000  # records per Chroma read when the snapshot is not saved yet
KEEP_SAVED = 3  # saved snapshots kept per data folder: the serving one and a few before


def read_current(settings: Settings) -> tuple[str, dict[str, Any]]:
    """The serving generation's name and manifest, or IndexNotReadyError."""
    return make_generations(settings).current()


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


def saved_dir(settings: Settings, manifest: dict[str, Any]) -> Path:
    """Where a copy of a generation's passages and vectors is kept under the data folder:
    keyed by the passages' digests and the embedding setup, so any generation with the same
    content reads it, and a change writes another."""
    setup = [manifest.get(k) for k in ("embedder", "embedding_model")]
    digest = hashlib.sha1(content_digest(manifest.get("passages", {})).encode())
    # The home too: a Chroma server's ids are not the local home's.
    digest.update(json.dumps([setup, settings.collection, settings.chroma_url or ""]).encode())
    return settings.data_dir / "cache" / f"snapshot-{digest.hexdigest()[:20]}"


def _check_vector_space(settings: Settings, manifest: dict[str, Any]) -> None:
    """Refuse an index whose vectors come from another model than the settings' embedder:
    its neighbours would be noise. Raises IndexNotReadyError."""
    built = (manifest.get("embedder"), manifest.get("embedding_model"))
    wanted = (vector_space(settings), settings.embedding_model or "")
    if built[0] is not None and built != wanted:
        raise IndexNotReadyError(
            f"the index was built with embedder {built[0]!r} ({built[1] or 'the bundled model'}), "
            f"not {wanted[0]!r} ({wanted[1] or 'the bundled model'}): run `advisor ingest`"
        )


def _read(path: Path, count: int) -> tuple[list[IndexedPassage], np.ndarray] | None:
    """The passages and vectors ``_save`` wrote, or None (missing, unreadable, or not
    ``count`` rows, as the manifest lists)."""
    try:
        rows = json.loads((path / "passages.json").read_text(encoding="utf-8"))
        vectors = np.load(path / "embeddings.npy", allow_pickle=False)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the saved snapshot %s: %s", path, exc)
        return None
    if len(rows) != count or vectors.shape[0] != count:
        return None
    return [IndexedPassage(i, d, m) for i, d, m in rows], vectors.astype(np.float32, copy=False)


def _save(path: Path, passages: list[IndexedPassage], vectors: np.ndarray) -> None:
    """Keep the passages and vectors read from Chroma, so the next start reads one file
    (at 100,000 passages Chroma's ``get`` takes about 20 s here); best effort."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        rows = [[p.id, p.text, p.meta] for p in passages]
        (tmp / "passages.json").write_text(json.dumps(rows, ensure_ascii=False), "utf-8")
        np.save(tmp / "embeddings.npy", vectors, allow_pickle=False)
        os.rename(tmp, path)
    except OSError as exc:  # another process saved it first, or the disk is read-only
        if not path.is_dir():
            log.warning("could not save the snapshot %s: %s", path, exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    keep_newest(path.parent, "snapshot-*", KEEP_SAVED)


def _read_store(store: Any) -> dict[str, list[Any]]:
    """Every record of the collection, ``READ_PAGE`` at a time: one ``get`` of 100,000
    records binds more SQL variables than SQLite allows ("too many SQL variables")."""
    got: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
    while True:
        page = store.get(
            include=["documents", "metadatas", "embeddings"],
            limit=READ_PAGE,
            offset=len(got["ids"]),
        )
        for key, values in got.items():
            values.extend(page[key] if page[key] is not None else [])
        if len(page["ids"]) < READ_PAGE:
            return got


class IndexSnapshot:
    """A read-only view of the serving generation: vector store, passages and embeddings.

    ``passages[i]`` has the unit-length vector ``embeddings[i]`` (float32, shape n × 384
    for MiniLM); ``position`` maps a passage id to ``i``, ``by_doc`` a document id to its
    passages' indices in order, and ``kinds[i]`` is passage ``i``'s kind (article, note,
    answer). Raises IndexNotReadyError when there is no index, or it is empty, damaged or
    unreachable.
    """

    def __init__(
        self, settings: Settings, embedder: Embedder, home: Generations | None = None
    ) -> None:
        self._home = home or make_generations(settings)
        self.generation, self.manifest = self._home.current()
        _check_vector_space(settings, self.manifest)
        self.remote = bool(settings.chroma_url)
        saved = saved_dir(settings, self.manifest)
        try:
            self._client, self.store = self._home.open(self.generation, embedder)
            # The manifest's count was checked against the collection when it was built.
            loaded = _read(saved, len(self.manifest.get("passages", {})))
            if loaded is None:
                got = _read_store(self.store)
        except IndexNotReadyError:
            raise
        except Exception as exc:  # a damaged file fails in Chroma in many ways, all alike
            raise IndexNotReadyError(
                f"the index cannot be opened ({exc}): run `advisor ingest`"
            ) from exc
        if loaded is None:
            self.passages = [
                IndexedPassage(i, d, dict(m or {}))
                for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            ]
            self.embeddings = np.asarray(got["embeddings"], dtype=np.float32)
            if self.passages:
                _save(saved, self.passages, self.embeddings)
        else:
            self.passages, self.embeddings = loaded
        if not self.passages:
            raise IndexNotReadyError("the index is empty: run `advisor ingest`")
        self.position = {p.id: i for i, p in enumerate(self.passages)}
        # Built once here, so no question walks every passage (100,000 at scale).
        self.kinds = [str(p.meta.get("kind", "")) for p in self.passages]
        self.by_doc: dict[str, list[int]] = {}
        for i, p in enumerate(self.passages):
            self.by_doc.setdefault(p.doc_id, []).append(i)

    def close(self) -> None:
        """Release the Chroma client (a server's client stays: the process shares it)."""
        self._home.release(self._client)


class ServingIndex:
    """The snapshot that should serve now: loaded on first use, reloaded after a switch.

    An ``advisor ingest`` in another process moves the pointer; the next ``snapshot()``
    call sees it and loads the new generation. The old snapshot is left to in-flight
    requests (its files outlive it). Thread-safe.
    """

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        self._home = make_generations(settings)
        self._snapshot: IndexSnapshot | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> IndexSnapshot | None:
        """The snapshot in memory, if any, without checking the pointer."""
        return self._snapshot

    def snapshot(self) -> IndexSnapshot:
        """The current snapshot, loading a new one if the pointer names another generation."""
        with self._lock:
            if self._snapshot is None or self._switched():
                self._snapshot = IndexSnapshot(self.settings, self.embedder, self._home)
            return self._snapshot

    def _switched(self) -> bool:
        name = self._home.serving()
        return self._snapshot is not None and name is not None and name != self._snapshot.generation
