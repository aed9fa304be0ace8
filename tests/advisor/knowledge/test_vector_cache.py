"""The saved sentence vectors: a second start embeds nothing the first already embedded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from advisor.config import Settings
from advisor.facade import Advisor
from advisor.knowledge.embeddings import VectorCache


class Counting:
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, inner: Any, name: str | None = None) -> None:
        self.inner = inner
        self.name = name or inner.name
        self.embedded = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += len(texts)
        return list(self.inner.embed_documents(texts))

    def embed_query(self, text: str) -> list[float]:
        return list(self.inner.embed_query(text))


def test_a_second_start_loads_the_vectors_instead_of_embedding(
    index_dir: Path, tmp_path: Path, embedder: Any
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "index").symlink_to(index_dir / "index")
    settings = Settings(data_dir=data, database_url=f"sqlite:///{tmp_path / 'c.db'}")
    # The plan-review model is shared by the session and trained on first use; train it
    # now, so the counts below are the corpus's alone whichever test runs first.
    (tmp_path / "warmup").mkdir()
    (tmp_path / "warmup" / "index").symlink_to(index_dir / "index")
    Advisor(settings.model_copy(update={"data_dir": tmp_path / "warmup"}), embedder=embedder).warm()
    first = Counting(embedder)
    Advisor(settings, embedder=first).warm()
    assert first.embedded > 200
    saved = list((data / "cache").glob("vectors-*.npz"))
    assert len(saved) == 1

    second = Counting(embedder)
    advisor = Advisor(settings, embedder=second)
    advisor.warm()
    assert second.embedded == 0
    answer = advisor.ask("Why do CRM projects fail?")
    assert answer.answered and answer.citations
    # The same answer as from an advisor that embedded everything itself.
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "index").symlink_to(index_dir / "index")
    third = Counting(embedder)
    fresh = Advisor(settings.model_copy(update={"data_dir": tmp_path / "other"}), embedder=third)
    fresh.warm()
    assert third.embedded == first.embedded
    assert fresh.ask("Why do CRM projects fail?").answer == answer.answer


def test_a_one_shot_advisor_reads_the_warm_ups_vectors(
    index_dir: Path, tmp_path: Path, embedder: Any
) -> None:
    """A CLI `ask` builds an Advisor, asks once and exits: it never warms up, so without the
    saved file it would embed the question-type training set and the answer entries."""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}")
    (tmp_path / "index").symlink_to(index_dir / "index")
    cold = Counting(embedder)
    Advisor(settings, embedder=cold).ask("Who should own the CRM project?")
    assert cold.embedded > 300
    Advisor(settings, embedder=Counting(embedder)).warm()
    one_shot = Counting(embedder)
    answer = Advisor(settings, embedder=one_shot).ask("Who should own the CRM project?")
    assert answer.answered
    assert one_shot.embedded <= 3  # the question, as the typer and the composer read it


def test_save_and_load_round_trip_exactly(tmp_path: Path, embedder: Any) -> None:
    texts = [
        "Pilot with one region first.",
        "Name a business owner.",
        "Pilot with one region first.",
    ]
    cache = VectorCache(Counting(embedder))
    cache.save(tmp_path / "v.npz", texts)
    other = VectorCache(Counting(embedder))
    assert other.load(tmp_path / "v.npz") == set(texts)
    assert np.array_equal(other.vectors(texts), cache.vectors(texts))
    assert other.embedder.embedded == 0


@pytest.mark.parametrize("damage", ["garbage", "foreign", "truncated"])
def test_a_bad_cache_file_is_ignored(tmp_path: Path, embedder: Any, damage: str) -> None:
    path = tmp_path / "v.npz"
    VectorCache(Counting(embedder, name="another-model")).save(path, ["one sentence"])
    if damage == "garbage":
        path.write_bytes(b"not a numpy file at all")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    cache = VectorCache(Counting(embedder))
    assert cache.load(path) == set()
    assert cache.vectors(["one sentence"]).shape == (1, 384)
    assert cache.embedder.embedded == 1


def test_an_unwritable_cache_folder_costs_only_time(
    tmp_path: Path, embedder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder should be", encoding="utf-8")
    VectorCache(Counting(embedder)).save(blocker / "v.npz", ["a sentence"])
    assert "could not save the vector cache" in caplog.text
    assert blocker.read_text(encoding="utf-8").startswith("a file")
