"""The embedders (ONNX and PyTorch): concurrent queries share forward passes and get their own
vectors back."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from advisor.config import Settings
from advisor.errors import EmbeddingError
from advisor.knowledge.embeddings import BatchingEmbedder, make_embedder
from evals.harness import questions

BACKENDS = ["onnx", "torch"]


@pytest.fixture(scope="module", params=BACKENDS)
def model(request: pytest.FixtureRequest) -> BatchingEmbedder:
    """A model of this module's own, so its pass counter is not shared with other tests."""
    made = make_embedder(Settings(data_dir=Path("unused"), embed_batch=32, embedder=request.param))
    assert isinstance(made, BatchingEmbedder)
    return made


def _concurrently(model: BatchingEmbedder, texts: list[str]) -> list[list[float]]:
    out: list[list[float]] = [[] for _ in texts]
    start = threading.Barrier(len(texts))

    def one(i: int) -> None:
        start.wait()
        out[i] = model.embed_query(texts[i])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(texts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_concurrent_queries_share_passes_and_keep_their_vectors(
    model: BatchingEmbedder,
) -> None:
    texts = questions()[:24]
    alone = np.array([model.embed_query(t) for t in texts])
    before = model.passes
    together = np.array(_concurrently(model, texts))
    assert model.passes - before < len(texts)  # at least some queries rode along
    # Padding in a batch moves the last bit of a float, nothing more.
    assert np.abs(together - alone).max() < 1e-5
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_batch_of_one_embeds_each_query_alone(tmp_path: Path, backend: str) -> None:
    model = make_embedder(Settings(data_dir=tmp_path, embed_batch=1, embedder=backend))
    assert isinstance(model, BatchingEmbedder)
    before = model.passes
    _concurrently(model, questions()[:6])
    assert model.passes - before == 6


def test_a_failed_pass_fails_every_query_in_it(model: BatchingEmbedder) -> None:
    broken = BatchingEmbedder.__new__(BatchingEmbedder)
    broken.__dict__.update(model.__dict__)
    broken._queue, broken._queue_lock, broken._lock = [], threading.Lock(), threading.Lock()

    def fail(texts: list[str]) -> list[list[float]]:
        raise RuntimeError("out of memory")

    broken._encode = fail  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            broken.embed_query("Who should own the CRM project?")
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(errors) == 8 and not any(t.is_alive() for t in threads)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_missing_model_is_a_clear_error(tmp_path: Path, backend: str) -> None:
    missing = str(tmp_path / "nothing")
    with pytest.raises(EmbeddingError, match="cannot load embedding model"):
        make_embedder(Settings(data_dir=tmp_path, embedding_model=missing, embedder=backend))
