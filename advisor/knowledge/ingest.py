"""Ingest: bring the index in line with the corpus, all or nothing, in either index home.

The corpus is loaded and split, compared with the serving generation's manifest, and when
anything changed a new generation is built beside it (reusing unchanged passages' vectors),
checked, and only then made to serve. A failed or killed ingest leaves the previous
generation serving; a damaged serving generation is rebuilt in full.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from advisor.config import Settings
from advisor.errors import AdvisorError, IndexingError, IndexNotReadyError
from advisor.knowledge.corpus import load_corpus, split_document
from advisor.knowledge.embeddings import Embedder, make_embedder
from advisor.knowledge.generations import Generations, Progress
from advisor.knowledge.homes import make_generations
from advisor.knowledge.manifest import (
    EMPTY,
    IngestReport,
    diff,
    documents_meta,
    new_manifest,
    next_generation,
    passage_hash,
)
from advisor.knowledge.parsecache import ParseCache

log = logging.getLogger("advisor.index")


class LazyEmbedder:
    """Defers loading the model until a passage actually needs embedding; counts them."""

    def __init__(self, factory: Callable[[], Embedder]) -> None:
        self._factory = factory
        self._inner: Embedder | None = None
        self.embedded = 0
        self.name = "lazy"

    def _get(self) -> Embedder:
        if self._inner is None:
            self._inner = self._factory()
        return self._inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages, loading the model on the first call."""
        self.embedded += len(texts)
        return self._get().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed a query, loading the model on the first call."""
        return self._get().embed_query(text)


def ingest(
    settings: Settings,
    embedder_factory: Callable[[], Embedder] | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring the index in line with the corpus; on any error the old index keeps serving.

    Raises CorpusError (before anything is written), EmbeddingError, ConfigError, or
    IndexingError for anything else that goes wrong while building.
    """
    home = make_generations(settings)
    try:
        return _ingest(settings, home, embedder_factory, progress)
    except AdvisorError as exc:
        if isinstance(exc, IndexNotReadyError):  # an unreachable server, say
            raise IndexingError(f"indexing{home.where} failed: {exc}") from exc
        raise
    except Exception as exc:  # Chroma, SQLite, LangChain and the disk raise their own kinds
        raise IndexingError(f"indexing{home.where} failed, previous index kept: {exc}") from exc


def _ingest(
    settings: Settings,
    home: Generations,
    embedder_factory: Callable[[], Embedder] | None,
    progress: Progress | None,
) -> IngestReport:
    started = time.perf_counter()
    # Raises CorpusError before anything is written.
    cache = ParseCache(
        settings.data_dir / "cache" / "parsed", settings.corpus_dir / "cleaning.yaml"
    )
    docs = load_corpus(settings.corpus_dir, [settings.documents_path], cache.parse)
    cache.prune()
    passages = [p for d in docs for p in split_document(d, settings.chunk_size)]
    wanted = {p.key: passage_hash(p) for p in passages}
    docs_meta = documents_meta(docs, passages, settings.corpus_dir, settings.documents_path)
    repaired, usable = "", False
    try:
        old_name, old = home.current()
        damage = home.check(old_name, len(old["passages"]))
        if damage:
            # Nothing in a damaged generation can be trusted or copied: rebuild in full.
            log.warning("index %s is damaged (%s); rebuilding it", old_name, damage)
            repaired, old = f"{old_name}: {damage}", EMPTY
        usable = not damage
    except IndexNotReadyError as exc:
        # A new number past any existing generation, so none is written over.
        old_name, old = home.newest(), EMPTY
        if home.has_pointer():
            repaired = str(exc)
    change = diff(settings, old, wanted)
    if usable and change.same_setup and not change.changed:
        if old.get("docs") != docs_meta:
            home.save_manifest(old_name, {**old, "docs": docs_meta})
        return IngestReport(0, 0, 0, change.skipped, old_name, time.perf_counter() - started)

    name = next_generation(old_name)
    base = old_name if usable and change.same_setup else None
    embedder = LazyEmbedder(embedder_factory or (lambda: make_embedder(settings)))
    try:
        home.build(name, base, passages, change.unchanged, embedder, progress)
        home.save_manifest(name, new_manifest(settings, wanted, docs_meta))
        damage = home.check(name, len(wanted))
        if damage:
            raise IndexingError(f"the new index failed its check ({damage}), previous kept")
    except BaseException:
        home.discard(name)
        raise
    home.switch(name)
    # Keep the previous generation: a running server may still be reading it.
    for stale in home.names():
        if stale not in (name, old_name):
            home.discard(stale)
    seconds = time.perf_counter() - started
    c = change
    return IngestReport(c.added, c.updated, c.deleted, c.skipped, name, seconds, repaired)
