"""The bookkeeping both index homes share: manifests, passage digests, the diff, the check.

A generation's manifest records its setup (embedder, model, collection), one digest per
passage and the documents. An ingest compares the corpus with the serving manifest
(``diff``) to decide what to embed, and checks a collection (``collection_damage``) before
it may serve. ``advisor.knowledge.local`` and ``advisor.knowledge.server`` both use these.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advisor.config import Settings
from advisor.knowledge.corpus import Passage, SourceDoc
from advisor.knowledge.embeddings import vector_space

MANIFEST_VERSION = 1
EMPTY: dict[str, Any] = {"passages": {}}
"""The manifest of no generation: nothing to reuse."""


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


@dataclass(frozen=True)
class Diff:
    """How the corpus differs from a generation: counts, and the passages to reuse."""

    added: int
    updated: int
    deleted: int
    skipped: int
    same_setup: bool  # same embedder and model, so the old vectors are still valid
    unchanged: frozenset[str]  # passage keys whose vectors can be copied, not embedded

    @property
    def changed(self) -> bool:
        """True when anything was added, updated or deleted."""
        return bool(self.added or self.updated or self.deleted)


def content_digest(passages: dict[str, str]) -> str:
    """One digest of a manifest's passage digests (``manifest["passages"]``), in key order."""
    lines = "\n".join(f"{k}\t{v}" for k, v in sorted(passages.items()))
    return hashlib.sha1(lines.encode("utf-8")).hexdigest()


def passage_hash(p: Passage) -> str:
    """A digest of a passage's text and metadata: a change means re-embedding it."""
    payload = json.dumps([p.text, p.metadata()], sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()


def documents_meta(
    docs: list[SourceDoc], passages: list[Passage], corpus_dir: Path, added_dir: Path
) -> dict[str, Any]:
    """What a manifest records of each document: title, kind, path, metadata, passage count.

    The path is relative to ``corpus_dir``, or ``documents/…`` for an added document.
    """
    # Counted in one pass: a count per document over every passage was 5,000 × 100,000.
    counts = Counter(p.doc_id for p in passages)
    return {
        d.id: {
            "title": d.title,
            "kind": d.kind,
            "path": _relative(d.path, corpus_dir, added_dir),
            **{k: v for k, v in d.meta.items() if k not in ("id", "title", "kind")},
            "passages": counts[d.id],
        }
        for d in docs
    }


def _relative(path: Path, corpus_dir: Path, added_dir: Path) -> str:
    if path.is_relative_to(corpus_dir):
        return str(path.relative_to(corpus_dir))
    if path.is_relative_to(added_dir):
        return str(Path("documents") / path.relative_to(added_dir))
    return str(path)


def diff(settings: Settings, old: dict[str, Any], wanted: dict[str, str]) -> Diff:
    """Compare wanted passage digests with an old manifest (``EMPTY`` when none is usable)."""
    same_setup = old.get("embedder") == vector_space(settings) and old.get("embedding_model") == (
        settings.embedding_model or ""
    )
    have: dict[str, str] = old["passages"] if same_setup else {}
    added = sum(1 for k in wanted if k not in have)
    updated = sum(1 for k, h in wanted.items() if k in have and have[k] != h)
    deleted = sum(1 for k in have if k not in wanted)
    unchanged = frozenset(k for k, h in wanted.items() if have.get(k) == h)
    return Diff(added, updated, deleted, len(wanted) - added - updated, same_setup, unchanged)


def next_generation(last: str) -> str:
    """The name after ``last`` (``gen-000001`` after none), so no number is reused."""
    number = int(last.split("-")[-1]) + 1 if last else 1
    return f"gen-{number:06d}"


def new_manifest(
    settings: Settings, wanted: dict[str, str], docs_meta: dict[str, Any]
) -> dict[str, Any]:
    """What a generation records of itself: its setup, passage digests and documents."""
    return {
        "version": MANIFEST_VERSION,
        "created": time.time(),
        "embedder": vector_space(settings),
        "embedding_model": settings.embedding_model or "",
        "collection": settings.collection,
        "passages": wanted,
        "docs": docs_meta,
    }


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
