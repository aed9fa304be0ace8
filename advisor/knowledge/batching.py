"""Embedding backends' shared machinery: concurrent queries share one forward pass."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future

import numpy as np
from langchain_core.embeddings import Embeddings


def hub_offline() -> None:
    """Keep Hugging Face libraries off the network and quiet (this host has no model hub)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


class BatchingEmbedder(Embeddings):
    """An embedder whose concurrent queries share one forward pass.

    Subclasses implement ``_run(texts) -> float32 matrix`` (one normalised row per text);
    calls to it are serialised by a lock, so a model that is not thread-safe is safe here.
    """

    name: str

    def __init__(self, name: str, max_batch: int = 32) -> None:
        self.name = name
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[tuple[str, Future[list[float]]]] = []
        self._queue_lock = threading.Lock()
        self.passes = 0  # forward passes run, for the benchmark, tests and /metrics
        self.texts = 0  # texts embedded in them (texts / passes: the mean batch size)

    def _run(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _encode(self, texts: list[str]) -> list[list[float]]:
        self.passes += 1
        self.texts += len(texts)
        vectors: list[list[float]] = self._run([t.replace("\n", " ") for t in texts]).tolist()
        return vectors

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages: one unit-length vector (384 floats for MiniLM) per text, in order.

        Raises what the backend raises; ``embed_matrix`` wraps it in EmbeddingError.
        """
        with self._lock:
            return self._encode(texts)

    def embed_query(self, text: str) -> list[float]:
        """Embed one query: a unit-length vector. Queries waiting meanwhile share one pass;
        a failed pass raises its error in every query it carried."""
        if self.max_batch <= 1:
            with self._lock:
                return self._encode([text])[0]
        # A lone query skips the queue: with nobody waiting there is nothing to share.
        if self._lock.acquire(blocking=False):
            try:
                with self._queue_lock:
                    alone = not self._queue
                if alone:
                    return self._encode([text])[0]
            finally:
                self._lock.release()
        mine: Future[list[float]] = Future()
        with self._queue_lock:
            self._queue.append((text, mine))
        # Whoever gets the model embeds everything queued by then: under load one pass
        # serves many requests instead of each waiting for a pass of its own.
        while not mine.done():
            with self._lock:
                if mine.done():
                    break
                with self._queue_lock:
                    batch = self._queue[: self.max_batch]
                    del self._queue[: self.max_batch]
                if not batch:  # only a pass that died without settling its slots does this
                    mine.set_exception(RuntimeError("a query was lost by a failed pass"))
                    break
                self._serve(batch)
        return mine.result()

    def _serve(self, batch: list[tuple[str, Future[list[float]]]]) -> None:
        """Run one pass for ``batch`` and settle every slot, whatever happens."""
        try:
            vectors = self._encode([t for t, _ in batch])
            for (_, slot), vector in zip(batch, vectors, strict=True):
                slot.set_result(vector)
        except BaseException as exc:  # even an interrupt must not leave a waiter hanging
            for _, slot in batch:
                if not slot.done():
                    slot.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
