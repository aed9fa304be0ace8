"""The serving index as read by questions: a snapshot of one generation, reloaded on a switch."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from advisor.config import Settings
from advisor.errors import IndexNotReadyError
from advisor.knowledge.embeddings import Embedder
from advisor.knowledge.generations import Generations
from advisor.knowledge.homes import make_generations


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


class IndexSnapshot:
    """A read-only view of the serving generation: vector store, passages and embeddings.

    ``passages[i]`` has the unit-length vector ``embeddings[i]`` (float32, shape n × 384
    for MiniLM); ``position`` maps a passage id to ``i``. Raises IndexNotReadyError when
    there is no index, or it is empty, damaged or unreachable.
    """

    def __init__(
        self, settings: Settings, embedder: Embedder, home: Generations | None = None
    ) -> None:
        self._home = home or make_generations(settings)
        self.generation, self.manifest = self._home.current()
        self.remote = bool(settings.chroma_url)
        try:
            self._client, self.store = self._home.open(self.generation, embedder)
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
