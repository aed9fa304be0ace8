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
from typing import Any

from advisor.config import Settings
from advisor.errors import AdvisorError, IndexingError, IndexNotReadyError
from advisor.knowledge.corpus import Passage, load_corpus, split_document
from advisor.knowledge.embeddings import (
    Embedder,
    embed_matrix,
    embedder_name,
    make_embedder,
    prepare_embedder,
)
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
from advisor.knowledge.sentences import SentenceStore, fill, store_dir

log = logging.getLogger("advisor.index")


class LazyEmbedder:
    """Defers loading the model until a passage actually needs embedding; counts them."""

    def __init__(self, factory: Callable[[], Embedder], default: bool = False) -> None:
        self._factory = factory
        self.default = default  # the settings' own embedder, not one a caller passed
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

    def loaded(self) -> Embedder:
        """The embedder itself, loaded now if it was not yet."""
        return self._get()


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
        if embedder_factory is None:  # a process of its own, as `advisor ingest` is
            prepare_embedder(settings)
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
    old_name, old, repaired = _serving(home)
    usable = old is not EMPTY
    change = diff(settings, old, wanted)
    unchanged = _whole(change.unchanged, old.get("passages", {}), wanted)
    embedder = LazyEmbedder(
        embedder_factory or (lambda: make_embedder(settings)), default=embedder_factory is None
    )
    if usable and change.same_setup and not change.changed:
        if old.get("docs") != docs_meta:
            home.save_manifest(old_name, {**old, "docs": docs_meta})
        # An index built before sentence vectors were stored, or a wiped cache, gets them.
        stored = _sentences(settings, passages, change.unchanged, embedder, progress, old)
        if stored != old.get("sentences"):
            home.save_manifest(old_name, {**old, "docs": docs_meta, "sentences": stored})
        return IngestReport(0, 0, 0, change.skipped, old_name, time.perf_counter() - started)

    name = next_generation(old_name)
    base = old_name if usable and change.same_setup else None
    try:
        home.build(name, base, passages, unchanged, embedder, progress)
        kept = unchanged if base else frozenset()
        stored = _sentences(settings, passages, kept, embedder, progress, old)
        home.save_manifest(name, {**new_manifest(settings, wanted, docs_meta), "sentences": stored})
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


def _whole(
    unchanged: frozenset[str], old: dict[str, str], wanted: dict[str, str]
) -> frozenset[str]:
    """The unchanged passages of documents that lost none: a document whose last passages
    were cut keeps its first ones unchanged, yet must be re-indexed so the cut ones go."""
    shrunk = {Passage.doc_of(key) for key in old if key not in wanted}
    return frozenset(k for k in unchanged if Passage.doc_of(k) not in shrunk)


def _serving(home: Generations) -> tuple[str, dict[str, Any], str]:
    """The serving generation's name and manifest (``EMPTY`` when it is missing or unusable),
    and what was wrong with it ("" when nothing)."""
    try:
        name, manifest = home.current()
    except IndexNotReadyError as exc:
        # A new number past any existing generation, so none is written over.
        return home.newest(), EMPTY, str(exc) if home.has_pointer() else ""
    damage = home.check(name, len(manifest["passages"]))
    if damage:
        # Nothing in a damaged generation can be trusted or copied: rebuild in full.
        log.warning("index %s is damaged (%s); rebuilding it", name, damage)
        return name, EMPTY, f"{name}: {damage}"
    return name, manifest, ""


def _sentences(
    settings: Settings,
    passages: list[Passage],
    kept: frozenset[str],
    embedder: LazyEmbedder,
    progress: Progress | None,
    old: dict[str, Any],
) -> str:
    """Embed the quotable sentences that no earlier ingest stored, so no question has to;
    return the store's folder name, which the manifest records.

    When ``old`` (the previous generation's manifest) records this store and it is still
    there, the ``kept`` passages' sentences are stored already, and only the other
    passages are read: a one-document change does not split 100,000 passages again.
    """
    # The default embedder's name is known without loading the model, so an ingest that
    # only deletes, or finds every sentence stored, does not pay for the load.
    name = embedder_name(settings) if embedder.default else None
    root = store_dir(settings.data_dir, name or embedder.loaded().name)
    complete = not (old.get("sentences") == root.name and root.is_dir())
    if not complete:
        passages = [p for p in passages if p.key not in kept]
    if passages:
        store = SentenceStore(root)
        embed = lambda texts: embed_matrix(embedder, texts)  # noqa: E731
        added = fill(store, (p.text for p in passages), embed, progress, complete)
        log.info("embedded %d new quotable sentences", added)
    return root.name
