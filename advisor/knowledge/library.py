"""The user's own documents: files added to the knowledge base beside the shipped corpus.

``DocumentLibrary`` converts each file (``advisor.knowledge.convert``) and keeps it as a
corpus Markdown file, ``<documents_path>/<kind>s/<id>.md``, whose front matter records the
provenance: the file name, its format, title, author and date where the file states them,
the page count of a PDF, the SHA-256 of the original bytes, tags and when it was added. The
corpus loader reads that folder with ``corpus/``, so an ingest indexes both.

Adding is all or nothing per call: every file is converted before any is written, and if
the ingest that follows fails, the files just written are taken out again, so nothing is
half-indexed. A file whose bytes are already in the library (same SHA-256) adds nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

import yaml

from advisor.config import Settings
from advisor.errors import (
    ConfigError,
    CorpusError,
    DocumentError,
    DocumentNotFoundError,
    InvalidInputError,
)
from advisor.inputs import MAX_TITLE_CHARS, clean_label, clean_tags
from advisor.knowledge.convert import Converted, convert
from advisor.knowledge.corpus import FRONT_MATTER, load_rules, parse_text
from advisor.knowledge.embeddings import Embedder
from advisor.knowledge.manifest import IngestReport

USER_KINDS = ("article", "note")
_ID_LINE = re.compile(r"^id:\s*['\"]?([a-z0-9][a-z0-9_-]*)", re.M)


@dataclass(frozen=True)
class AddedFile:
    """The outcome for one file: ``added``, or ``duplicate`` of ``doc_id`` already there."""

    file_name: str
    doc_id: str
    title: str
    status: str
    pages: int | None = None


@dataclass
class AddOutcome:
    """What ``DocumentLibrary.add`` did: one entry per file, and the ingest's report."""

    files: list[AddedFile] = field(default_factory=list)
    report: IngestReport | None = None


def slug(text: str) -> str:
    """A corpus id from a file name or title: lowercase ASCII, digits, ``-``; at most 60."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    return out or "document"


class DocumentLibrary:
    """The added documents' folder: add, remove and list; changes and ingests take turns."""

    def __init__(
        self, settings: Settings, embedder_factory: Callable[[], Embedder] | None = None
    ) -> None:
        self.settings = settings
        self.root = settings.documents_path
        self.max_bytes = int(settings.max_document_mb * 2**20)
        self._embedder_factory = embedder_factory  # a server passes its loaded model
        self.last_removed: tuple[Path, str] | None = None  # (file, text) to put back

    # -- reading ---------------------------------------------------------------------
    def files(self) -> dict[str, Path]:
        """Every added document's id and file, from the front matter."""
        out: dict[str, Path] = {}
        for kind in USER_KINDS:
            for path in sorted((self.root / f"{kind}s").glob("*.md")):
                meta = _front(path)
                if meta.get("id"):
                    out[str(meta["id"])] = path
        return out

    def documents(self) -> list[dict[str, Any]]:
        """The front matter of every added document, sorted by id."""
        return [{**_front(p), "path": str(p)} for _, p in sorted(self.files().items())]

    def _hashes(self) -> dict[str, tuple[str, str]]:
        """Each added document's SHA-256: its id and title."""
        return {
            str(m["sha256"]): (str(m["id"]), str(m.get("title", "")))
            for m in self.documents()
            if m.get("sha256")
        }

    def _taken_ids(self) -> set[str]:
        taken = set(self.files())
        for path in self.settings.corpus_dir.glob("*/*.md"):
            head = path.read_text(encoding="utf-8", errors="replace")[:2000]
            match = _ID_LINE.search(head)
            if match:
                taken.add(match.group(1))
        return taken

    # -- changing --------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the folder's lock: one change or ingest at a time, across threads and
        processes (``flock`` on ``.lock``), so an ingest never reads a half-made change.
        An unwritable folder is a ConfigError naming ADVISOR_DOCUMENTS_DIR."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = (self.root / ".lock").open("a")
        except OSError as exc:
            raise _unwritable(self.root, exc) from exc
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            except OSError as exc:
                raise _unwritable(self.root, exc) from exc
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def add(
        self,
        files: list[tuple[str, bytes]],
        kind: str = "article",
        tags: list[str] | None = None,
        title: str | None = None,
        ingest: bool = True,
    ) -> AddOutcome:
        """Add ``(file name, bytes)`` pairs, then ingest (unless ``ingest`` is False).

        Raises DocumentError naming every bad file (or a bad kind, title or tag) before
        anything is written; the ingest's own errors (CorpusError, IndexingError, …) after
        taking the new files out; ConfigError when the folder cannot be written.
        """
        if kind not in USER_KINDS:
            raise DocumentError(f"kind must be one of {', '.join(USER_KINDS)}, not {kind!r}")
        if title is not None and len(files) != 1:
            raise DocumentError("a title override names one file; add the others separately")
        try:
            title = None if title is None else clean_label(title, "title", MAX_TITLE_CHARS)
            tags = clean_tags(tags or [])
        except InvalidInputError as exc:
            raise DocumentError(str(exc)) from exc
        converted, problems = [], []
        for name, data in files:
            try:
                converted.append((name, data, convert(name, data, self.max_bytes)))
            except DocumentError as exc:
                problems.append(str(exc))
        if problems:  # every bad file named at once, and nothing written
            raise DocumentError("; ".join(problems))
        with self._locked():
            outcome, planned = self._plan(converted, kind, tags, title)
            for path, text in planned:
                _write(path, text)
            if ingest:
                try:
                    outcome.report = self._ingest()
                except BaseException:
                    for path, _ in planned:
                        path.unlink(missing_ok=True)
                    raise
        return outcome

    def _plan(
        self, converted: list[tuple[str, bytes, Converted]], kind: str, tags: list[str],
        title: str | None,
    ) -> tuple[AddOutcome, list[tuple[Path, str]]]:  # fmt: skip
        """Each new file's id, path and text, checked as the ingest will parse it; the
        duplicates (same SHA-256 as a document already there) named. Writes nothing."""
        outcome, planned = AddOutcome(), []
        known, taken = self._hashes(), self._taken_ids()
        for name, data, doc in converted:
            digest = hashlib.sha256(data).hexdigest()
            if digest in known:
                doc_id, shown = known[digest]
                outcome.files.append(AddedFile(name, doc_id, shown, "duplicate"))
                continue
            base = slug(title or PurePath(name).stem)
            doc_id = _unique(base if base != "document" else f"document-{digest[:8]}", taken)
            taken.add(doc_id)
            known[digest] = (doc_id, title or doc.title)
            path = self.root / f"{kind}s" / f"{doc_id}.md"
            text = _markdown(doc_id, kind, name, digest, doc, tags, title)
            _check(name, path, text, self.settings.corpus_dir)
            planned.append((path, text))
            outcome.files.append(AddedFile(name, doc_id, title or doc.title, "added", doc.pages))
        return outcome, planned

    def remove(self, doc_id: str, ingest: bool = True) -> IngestReport | None:
        """Take an added document out, then ingest; DocumentNotFoundError if there is none.

        The old index serves until the new one is built and checked (``ingest``). If the
        ingest fails, the file is put back. With ``ingest`` False the caller runs the job
        (``run_job`` with ``restore``).
        """
        with self._locked():
            path = self.files().get(doc_id)
            if path is None:
                raise DocumentNotFoundError(f"no added document {doc_id!r}")
            kept = path.read_text(encoding="utf-8")
            path.unlink()
            self.last_removed = (path, kept)
            if not ingest:
                return None
            try:
                return self._ingest()
            except BaseException:
                _write(path, kept)
                raise

    def _ingest(self) -> IngestReport:
        """Ingest the corpus and the added documents; the caller holds the lock."""
        from advisor.knowledge.ingest import ingest

        return ingest(self.settings, self._embedder_factory)

    # -- background jobs (the HTTP upload answers at once; the ingest runs after) --------
    def start_job(self, action: str, files: list[AddedFile]) -> dict[str, Any]:
        """Record a queued job for ``files`` and return it; see ``job``."""
        job = {
            "id": uuid.uuid4().hex,
            "action": action,
            "status": "queued",
            "files": [f.__dict__ for f in files],
            "error": None,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "finished": None,
        }
        self._save_job(job)
        return job

    def run_job(
        self, job: dict[str, Any], written: list[str], restore: tuple[Path, str] | None = None
    ) -> None:
        """Ingest for a queued job; on failure take its ``written`` document ids out again
        (an upload), or put back the ``restore`` file (a removal), and record the error.
        Never raises: the job's status says what happened."""
        try:
            with self._locked():  # queued until the jobs before it are done
                self._save_job({**job, "status": "indexing"})
                try:
                    report = self._ingest()
                    done = {**job, "status": "indexed", "counts": report.counts()}
                except Exception as exc:  # recorded for the status URL, not lost in a log
                    for doc_id in written:
                        path = self.files().get(doc_id)
                        if path is not None:
                            path.unlink(missing_ok=True)
                    if restore is not None:
                        _write(*restore)
                    done = {**job, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        except ConfigError as exc:
            done = {**job, "status": "failed", "error": str(exc)}
        done["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        self._save_job(done)

    def job(self, job_id: str) -> dict[str, Any]:
        """A job's record: ``status`` is queued, indexing, indexed or failed (with ``error``).

        Raises DocumentNotFoundError for an unknown id.
        """
        path = self.root / ".jobs" / f"{job_id}.json"
        if not re.fullmatch(r"[0-9a-f]{32}", job_id) or not path.exists():
            raise DocumentNotFoundError(f"no document job {job_id!r}")
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _save_job(self, job: dict[str, Any]) -> None:
        _write(self.root / ".jobs" / f"{job['id']}.json", json.dumps(job, indent=1))


def _unwritable(root: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"cannot write the added documents in {root} ({exc.strerror or exc}): "
        "check ADVISOR_DOCUMENTS_DIR"
    )


def _check(name: str, path: Path, text: str, corpus_dir: Path) -> None:
    """Parse the file to be as the ingest will, so a problem is the file's, named, now."""
    try:
        parse_text(path, text, load_rules(corpus_dir / "cleaning.yaml"))
    except CorpusError as exc:
        reason = "; ".join(why for _, why in exc.problems) or str(exc)
        raise DocumentError(f"{name}: {reason}") from exc


def _unique(base: str, taken: set[str]) -> str:
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _markdown(
    doc_id: str, kind: str, name: str, digest: str, doc: Converted, tags: list[str], title: Any
) -> str:
    meta: dict[str, Any] = {
        "id": doc_id,
        "title": str(title or doc.title),
        "kind": kind,
        "origin": "added",
        "file_name": name,
        "format": doc.format,
        "sha256": digest,
        "added": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    meta.update({k: v for k, v in (("author", doc.author), ("date", doc.date)) if v})
    if doc.pages:
        meta["pages"] = doc.pages
    if tags:
        meta["tags"] = [str(t) for t in tags]
    head = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    return f"---\n{head}---\n\n{doc.body}\n"


def _write(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _front(path: Path) -> dict[str, Any]:
    try:
        match = FRONT_MATTER.match(path.read_text(encoding="utf-8"))
        meta = yaml.safe_load(match.group(1)) if match else {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return meta if isinstance(meta, dict) else {}


def as_json(outcome: AddOutcome) -> dict[str, Any]:
    """The outcome as ``advisor add --json`` prints it: the ingest counts and each file."""
    counts = outcome.report.counts() if outcome.report else {}
    return {**counts, "files": [f.__dict__ for f in outcome.files]}


__all__ = ["AddOutcome", "AddedFile", "DocumentLibrary", "as_json", "slug"]
