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


class Stub(BatchingEmbedder):
    """A backend whose first pass waits until ``waiting`` queries are queued behind it."""

    def __init__(self, waiting: int, fail: bool) -> None:
        super().__init__("stub", max_batch=32)
        self.waiting, self.fail, self.batches = waiting, fail, []  # type: ignore[var-annotated]

    def _run(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        while len(self.batches) == 1 and len(self._queue) < self.waiting:
            threading.Event().wait(0.01)
        if self.fail:
            raise RuntimeError("out of memory")
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)


def _ask_all(stub: Stub, texts: list[str]) -> tuple[list[object], list[threading.Thread]]:
    got: list[object] = [None] * len(texts)

    def ask(i: int) -> None:
        try:
            got[i] = stub.embed_query(texts[i])
        except RuntimeError as exc:
            got[i] = exc

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(texts))]
    threads[0].start()
    while not stub.batches:  # the first query is in its pass, alone
        threading.Event().wait(0.01)
    for t in threads[1:]:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    return got, threads


def test_queries_that_arrive_during_a_lone_pass_share_the_next_one() -> None:
    stub = Stub(waiting=7, fail=False)
    texts = [f"question {'x' * i}" for i in range(8)]
    got, _ = _ask_all(stub, texts)
    assert [len(b) for b in stub.batches] == [1, 7]  # one lone pass, then one shared
    assert got == [[float(len(t)), 1.0] for t in texts]  # each its own vector


def test_a_failed_pass_fails_every_query_in_it() -> None:
    stub = Stub(waiting=7, fail=True)
    got, _ = _ask_all(stub, [f"q{i}" for i in range(8)])
    assert [len(b) for b in stub.batches] == [1, 7]
    assert all(isinstance(g, RuntimeError) for g in got)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_missing_model_is_a_clear_error(tmp_path: Path, backend: str) -> None:
    missing = str(tmp_path / "nothing")
    with pytest.raises(EmbeddingError, match="cannot load embedding model"):
        make_embedder(Settings(data_dir=tmp_path, embedding_model=missing, embedder=backend))
