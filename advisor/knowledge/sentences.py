"""Sentence vectors computed at ingest and kept on disk, so no question embeds a passage's
sentences while the manager waits.

The extractive answer writer and the plan review score a retrieved passage's quotable
sentences (``advisor.quoting.passage_units``) by cosine against the question. Embedding
them on first retrieval cost about 100 ms per question on a corpus of thousands; a warm-up
over every sentence grows with the corpus. Ingest instead embeds every quotable sentence it
has not seen before, with the same embedder and the same call as a question would, and
appends them here; a question reads the rows it needs from memory-mapped files.

Layout under ``<data_dir>/cache/sentences-<embedder digest>/``: segments, each a pair
``<name>.vectors.npy`` (float32, n × d, unit rows) and ``<name>.keys.npy`` (uint64, n,
sorted): the first 8 bytes of each sentence's BLAKE2b digest, in row order. The keys file
is renamed into place last, so a segment that has keys is whole. Segments are only added
or, when there are many, merged into one (``compact``); readers holding a removed file keep
reading it (POSIX unlink semantics), and a reader that lists a segment about to be removed
skips it. Content-addressed, so any generation, and any process on this data folder, can
share the rows; a missing row only costs an embedding on first use.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from advisor.knowledge.files import write_atomic
from advisor.quoting import passage_units

log = logging.getLogger(__name__)
MAX_SEGMENTS = 8  # merged into one beyond this, so a lookup checks a few sorted arrays
EMBED_BATCH = 256  # sentences per call to the embedder
SEGMENT_ROWS = 16_384  # ingest writes a segment per this many new sentences (25 MB at d=384)


_SETTLED_NS = 2_000_000_000  # a folder mtime older than this has seen every rename of its tick


def _save(fh: BinaryIO, array: np.ndarray) -> None:
    np.save(fh, array, allow_pickle=False)


def sentence_key(text: str) -> int:
    """The 64-bit key of a sentence (first 8 bytes of its UTF-8 BLAKE2b digest)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


def store_dir(data_dir: Path, embedder_name: str) -> Path:
    """The store folder of one embedder's vectors under ``data_dir``."""
    digest = hashlib.sha1(embedder_name.encode()).hexdigest()[:16]
    return data_dir / "cache" / f"sentences-{digest}"


class SentenceStore:
    """Sentence vectors on disk, by text; thread-safe for readers, one writer at a time
    per process (ingest holds no lock against other processes: segment names are unique
    and every write is a rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._segments: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()
        self._seen: int | None = None  # the folder's mtime (ns) at the last full look

    def __len__(self) -> int:
        return sum(len(keys) for keys, _ in self._segments.values())

    @property
    def segments(self) -> int:
        """How many segments are read (after the last ``refresh``)."""
        return len(self._segments)

    def refresh(self) -> None:
        """Take in segments written since the last look (by ingest in any process).

        Called on every cache miss, so an unchanged folder costs one ``stat``, not a listing:
        every segment is renamed into the folder, which changes its mtime.
        """
        now = time.time_ns()
        try:
            stamp = self.root.stat().st_mtime_ns
            if stamp == self._seen:
                return
            names = {p.name[: -len(".keys.npy")] for p in self.root.glob("*.keys.npy")}
        except OSError:
            return
        with self._lock:
            for gone in set(self._segments) - names:
                del self._segments[gone]
            for name in sorted(names - set(self._segments)):
                segment = self._open(name)
                if segment is not None:
                    self._segments[name] = segment
            # Settled only when every segment opened (a failed open is tried again), and
            # not while a rename in the same clock tick could still be missing.
            whole = names <= set(self._segments)
            self._seen = stamp if whole and now - stamp > _SETTLED_NS else None

    def _open(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            keys = np.load(self.root / f"{name}.keys.npy", allow_pickle=False)
            vectors = np.load(self.root / f"{name}.vectors.npy", mmap_mode="r", allow_pickle=False)
        except FileNotFoundError:  # merged away between the listing and the open
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring sentence vectors %s: %s", name, exc)
            return None
        if keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors):
            log.warning("ignoring sentence vectors %s: shapes do not match", name)
            return None
        return keys, vectors

    def get(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vector (float32, shape (d,)) of each text that has one."""
        wanted = {t: sentence_key(t) for t in dict.fromkeys(texts)}
        found: dict[str, np.ndarray] = {}
        with self._lock:
            segments = list(self._segments.values())
        for keys, vectors in segments:
            todo = [t for t in wanted if t not in found]
            if not todo:
                break
            if not len(keys):
                continue
            probe = np.asarray([wanted[t] for t in todo], dtype=np.uint64)
            at = np.minimum(np.searchsorted(keys, probe), len(keys) - 1)
            for text, row, hit in zip(todo, at, keys[at] == probe, strict=True):
                if hit:
                    # A copy: a view would keep a merged-away file's map alive in caches.
                    found[text] = np.array(vectors[row], dtype=np.float32, copy=True)
        return found

    def missing(self, texts: Iterable[str]) -> list[str]:
        """The texts (each once, in order) that have no stored vector."""
        texts = list(dict.fromkeys(texts))
        have = self.get(texts)
        return [t for t in texts if t not in have]

    def add(self, texts: list[str], matrix: np.ndarray, merge: bool = True) -> None:
        """Store one row of ``matrix`` (n × d) per text as a new segment; with ``merge``,
        merge the segments into one when there are more than ``MAX_SEGMENTS``."""
        if not texts:
            return
        keys = np.asarray([sentence_key(t) for t in texts], dtype=np.uint64)
        keys, first = np.unique(keys, return_index=True)  # sorted; a repeat stored once
        self._write(f"seg-{uuid.uuid4().hex}", keys, np.asarray(matrix, np.float32)[first])
        self.refresh()
        if merge and self.segments > MAX_SEGMENTS:
            self.compact()

    def _write(self, name: str, keys: np.ndarray, vectors: np.ndarray) -> None:
        # Keys last: a segment exists once its keys do, and a failed keys write takes its
        # vectors with it (``compact`` only finds segments by their keys).
        write_atomic(self.root / f"{name}.vectors.npy", functools.partial(_save, array=vectors))
        try:
            write_atomic(self.root / f"{name}.keys.npy", functools.partial(_save, array=keys))
        except BaseException:
            (self.root / f"{name}.vectors.npy").unlink(missing_ok=True)
            raise

    def compact(self, keep: set[int] | None = None) -> None:
        """Merge every segment into one, keeping only the keys in ``keep`` when given."""
        with self._lock:
            old = dict(self._segments)
        if not old:
            return
        keys = np.concatenate([k for k, _ in old.values()])
        vectors = np.concatenate([np.asarray(v) for _, v in old.values()])
        keys, first = np.unique(keys, return_index=True)
        vectors = vectors[first]
        if keep is not None:
            mask = np.isin(keys, np.fromiter(keep, dtype=np.uint64, count=len(keep)))
            keys, vectors = keys[mask], vectors[mask]
        if len(keys):
            self._write(f"seg-{uuid.uuid4().hex}", keys, vectors)
        for name in old:
            for suffix in ("keys", "vectors"):
                (self.root / f"{name}.{suffix}.npy").unlink(missing_ok=True)
        self.refresh()


def fill(
    store: SentenceStore,
    passages: Iterable[str],
    embed: Callable[[list[str]], np.ndarray],
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
    complete: bool = False,
) -> int:
    """Embed and store every quotable sentence of ``passages`` that the store lacks; return
    how many were embedded. ``embed`` maps texts to unit rows (``embed_matrix``);
    ``progress`` wraps the sentences to embed, as ingest's ``Progress`` wraps passages.
    Merges the segments when there are many; when ``passages`` is ``complete`` (every
    passage of the corpus), also drops the rows of sentences no passage has any more once
    they outnumber the live ones."""
    store.refresh()
    units = list(dict.fromkeys(u[0] for text in passages for u in passage_units(text)))
    todo = store.missing(units)
    items: Iterable[str] = todo if progress is None else progress(todo, len(todo))
    batch: list[str] = []
    done: list[tuple[list[str], np.ndarray]] = []
    pending = 0
    for text in items:
        batch.append(text)
        if len(batch) == EMBED_BATCH:
            done.append((batch, embed(batch)))
            pending, batch = pending + len(batch), []
        if pending >= SEGMENT_ROWS:
            _flush(store, done)
            pending = 0
    if batch:
        done.append((batch, embed(batch)))
    _flush(store, done)
    if complete and len(store) > 2 * len(units):
        store.compact(keep={sentence_key(u) for u in units})
    elif store.segments > MAX_SEGMENTS:
        store.compact()
    return len(todo)


def _flush(store: SentenceStore, done: list[tuple[list[str], np.ndarray]]) -> None:
    if done:
        texts = [t for chunk, _ in done for t in chunk]
        store.add(texts, np.concatenate([m for _, m in done]), merge=False)
        done.clear()
