"""Index generations as local folders: the default home, one Chroma database per generation.

Layout under ``<data_dir>/index``: ``CURRENT`` names the serving generation; each
``gen-NNNNNN`` folder holds a Chroma database, the LangChain record manager's ledger and a
manifest. A new generation starts as a copy of the serving one and is brought up to date
with LangChain's indexing API, which embeds only what changed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path
from typing import Any

from advisor.config import Settings
from advisor.errors import IndexNotReadyError
from advisor.knowledge.corpus import Passage
from advisor.knowledge.embeddings import Embedder
from advisor.knowledge.generations import Progress, vector_store
from advisor.knowledge.manifest import MANIFEST_VERSION, collection_damage

log = logging.getLogger("advisor.index")
POINTER = "CURRENT"


def chroma_client(path: Path) -> Any:
    """A Chroma client over the database folder ``path`` (telemetry off)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    return chromadb.PersistentClient(
        path=str(path), settings=ChromaSettings(anonymized_telemetry=False)
    )


def release(client: Any) -> None:
    """Stop a local Chroma client so its files are closed (before a rename or delete)."""
    # Chroma caches one system per path; stop it and forget it.
    try:
        client._system.stop()
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()
    except Exception:  # best effort: a leak here only costs file handles
        log.debug("could not release chroma client", exc_info=True)


class LocalGenerations:
    """Generations as folders under ``settings.index_dir`` (see the module docstring)."""

    where = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.index_dir

    def serving(self) -> str | None:
        """The name in ``CURRENT``, or None when it cannot be read."""
        try:
            return (self.root / POINTER).read_text(encoding="utf-8").strip()
        except OSError:
            return None  # keep serving what is loaded; readiness reports the damage

    def current(self) -> tuple[str, dict[str, Any]]:
        """The serving generation's name and manifest, or IndexNotReadyError."""
        pointer = self.root / POINTER
        if not pointer.exists():
            raise IndexNotReadyError(
                f"no index has been built yet in {self.settings.data_dir.resolve()}: run "
                "`advisor ingest`, or set ADVISOR_DATA_DIR to the folder that holds the index"
            )
        try:
            name = pointer.read_text(encoding="utf-8").strip()
            manifest = json.loads((self.root / name / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IndexNotReadyError(
                f"the index is damaged ({exc}): run `advisor ingest` to rebuild it"
            ) from exc
        if manifest.get("version") != MANIFEST_VERSION or "passages" not in manifest:
            raise IndexNotReadyError("the index manifest is unreadable: run `advisor ingest`")
        return name, manifest

    def has_pointer(self) -> bool:
        """True when ``CURRENT`` exists."""
        return (self.root / POINTER).exists()

    def names(self) -> list[str]:
        """The generation folders, oldest first."""
        return sorted(p.name for p in self.root.glob("gen-*") if p.is_dir())

    def newest(self) -> str:
        """The newest generation folder's name ("" if none)."""
        names = self.names()
        return names[-1] if names else ""

    def check(self, name: str, expected: int) -> str:
        """Why a generation cannot serve ("" if it can); the record ledger must agree too."""
        path = self.root / name
        client = None
        try:
            client = chroma_client(path / "chroma")
            damage = collection_damage(client.get_collection(self.settings.collection), expected)
            if damage or not expected:
                return damage
            # The record manager's ledger is what the next incremental ingest trusts.
            uri = f"file:{path / 'records.db'}?mode=ro"
            with closing(sqlite3.connect(uri, uri=True)) as db:
                (records,) = db.execute("SELECT count(*) FROM upsertion_record").fetchone()
            if records != expected:
                return f"its record ledger lists {records} passages, its manifest {expected}"
            return ""
        except Exception as exc:  # any failure to open or search means it cannot serve
            return f"it cannot be opened or searched: {exc}"
        finally:
            if client is not None:
                release(client)

    def build(
        self,
        name: str,
        base: str | None,
        passages: list[Passage],
        unchanged: frozenset[str],
        embedder: Embedder,
        progress: Progress | None,
    ) -> None:
        """Copy ``base`` (if any) and update the copy with LangChain's indexing API.

        From nothing, every passage goes through ``index`` with ``cleanup="full"``. Onto a
        copy, only the documents with a changed passage do, with ``cleanup="scoped_full"``
        (their passages no longer wanted are deleted; the record manager skips their
        unchanged ones), and documents gone from the corpus are deleted by their source
        id: a one-document change does not walk 100,000 passages through the ledger.
        """
        from langchain_classic.indexes import SQLRecordManager
        from langchain_core.documents import Document
        from langchain_core.indexing import index

        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / name
        shutil.rmtree(path, ignore_errors=True)  # a leftover of a killed ingest
        if base is not None:
            shutil.copytree(self.root / base, path)
        else:
            path.mkdir(parents=True)
        collection = self.settings.collection
        client = chroma_client(path / "chroma")
        try:
            store = vector_store(client, collection, embedder)
            records = SQLRecordManager(
                f"chroma/{collection}", db_url=f"sqlite:///{path / 'records.db'}"
            )
            records.create_schema()
            todo = passages
            if base is not None:
                changed = {p.doc_id for p in passages if p.key not in unchanged}
                todo = [p for p in passages if p.doc_id in changed]
                _delete_sources(records, store, {p.doc_id for p in passages})
            documents = [Document(page_content=p.text, metadata=p.metadata()) for p in todo]
            source: Iterable[Document] = documents
            if progress is not None:
                source = progress(documents, len(documents))
            index(
                source,
                records,
                store,
                cleanup="full" if base is None else "scoped_full",
                source_id_key="source",
                key_encoder="sha256",
                batch_size=64,
            )
            records.engine.dispose()
        finally:
            release(client)

    def save_manifest(self, name: str, manifest: dict[str, Any]) -> None:
        """Write ``manifest.json`` in the generation's folder, atomically."""
        write_text_atomic(
            self.root / name / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True)
        )

    def switch(self, name: str) -> None:
        """Rewrite ``CURRENT`` atomically."""
        write_text_atomic(self.root / POINTER, name)

    def discard(self, name: str) -> None:
        """Delete a generation's folder."""
        shutil.rmtree(self.root / name, ignore_errors=True)

    def open(self, name: str, embedder: Embedder) -> tuple[Any, Any]:
        """A client and store over the generation's Chroma database."""
        client = chroma_client(self.root / name / "chroma")
        return client, vector_store(client, self.settings.collection, embedder, create=False)

    def release(self, client: Any) -> None:
        """Close the client's files."""
        release(client)


def _delete_sources(records: Any, store: Any, wanted: set[str]) -> None:
    """Delete every passage of the documents in the ledger that are not in ``wanted``."""
    from sqlalchemy import text

    with records.engine.connect() as db:
        found = {
            row[0] for row in db.execute(text("SELECT DISTINCT group_id FROM upsertion_record"))
        }
    gone = sorted(g for g in found - wanted if g is not None)
    if gone:
        keys = records.list_keys(group_ids=gone)
        store.delete(keys)
        records.delete_keys(keys)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see the old or the new content, never a part."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
