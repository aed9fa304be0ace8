"""Where index generations live, behind one interface: local folders or a Chroma server.

A generation is one complete, checked copy of the index, named ``gen-NNNNNN``. A pointer
(``CURRENT``) names the one that serves. Ingest (``advisor.knowledge.ingest``) builds a new
generation beside the serving one and moves the pointer only once it passes its check, so
readers never see a half-built index. The two homes differ only in storage:

- ``LocalGenerations`` (``advisor.knowledge.local``): folders under ``<data_dir>/index``;
- ``ServerGenerations`` (``advisor.knowledge.server``): collections on a ``chroma run``
  server named by ``ADVISOR_CHROMA_URL``, shared by every app process on any host.

``advisor.knowledge.homes.make_generations`` chooses one from the settings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from advisor.knowledge.corpus import Passage
from advisor.knowledge.embeddings import Embedder

Progress = Callable[[Iterable[Any], int], Iterable[Any]]
"""Wraps an iterable of work items with a progress display: (items, total) -> items."""


class Generations(Protocol):
    """What ingest and the serving snapshot need of an index home."""

    where: str
    """Where the generations live, for messages ("" locally, " on <url>" on a server)."""

    def serving(self) -> str | None:
        """The pointer's generation name, cheaply (None when it cannot be read now)."""
        ...

    def current(self) -> tuple[str, dict[str, Any]]:
        """The serving generation's name and manifest; IndexNotReadyError if unreadable."""
        ...

    def has_pointer(self) -> bool:
        """True when a pointer exists, readable or not (an unreadable one is damage)."""
        ...

    def newest(self) -> str:
        """The newest generation present ("" if none), so a rebuild never reuses a number."""
        ...

    def names(self) -> list[str]:
        """Every generation present, oldest first."""
        ...

    def check(self, name: str, expected: int) -> str:
        """Why a generation cannot serve ("" if it can): all passages there, each findable."""
        ...

    def build(
        self,
        name: str,
        base: str | None,
        passages: list[Passage],
        unchanged: frozenset[str],
        embedder: Embedder,
        progress: Progress | None,
    ) -> None:
        """Fill generation ``name``; passages in ``unchanged`` may be copied from ``base``."""
        ...

    def save_manifest(self, name: str, manifest: dict[str, Any]) -> None:
        """Write a generation's manifest."""
        ...

    def switch(self, name: str) -> None:
        """Point the pointer at ``name``, atomically."""
        ...

    def discard(self, name: str) -> None:
        """Remove a generation (a failed, leftover or stale one); absent is fine."""
        ...

    def open(self, name: str, embedder: Embedder) -> tuple[Any, Any]:
        """(client, LangChain Chroma store) reading generation ``name``; IndexNotReadyError."""
        ...

    def release(self, client: Any) -> None:
        """Let go of a client that ``open`` returned."""
        ...


def vector_store(client: Any, collection: str, embedder: Any, create: bool = True) -> Any:
    """LangChain's Chroma store over one collection, cosine space, on a given client."""
    from langchain_chroma import Chroma

    return Chroma(
        collection_name=collection,
        embedding_function=embedder,
        client=client,
        collection_metadata={"hnsw:space": "cosine"},
        create_collection_if_not_exists=create,
    )
