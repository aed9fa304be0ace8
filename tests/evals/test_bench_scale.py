"""The scale benchmark's corpus generator and its verdicts (the measuring runs in make)."""

from __future__ import annotations

from pathlib import Path

from advisor.knowledge.corpus import load_corpus, split_document
from evals.bench_corpus import generate
from evals.bench_scale import table


def test_the_generated_corpus_is_reproducible_and_splits_as_promised(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", documents=3, passages=7, seed=5)
    generate(tmp_path / "b", documents=3, passages=7, seed=5)
    other = generate(tmp_path / "c", documents=3, passages=7, seed=6)
    a, b, c = (tmp_path / x / "corpus" / "articles" / "bench-00001.md" for x in "abc")
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()
    assert first["pool"] == other["pool"] > 1000  # real sentences of the domain
    docs = {d.id: d for d in load_corpus(tmp_path / "a" / "corpus")}
    assert "accountability-users" in docs  # the shipped corpus comes along
    for n in range(3):
        passages = split_document(docs[f"bench-{n:05d}"])
        assert len(passages) == 7 and all(len(p.text) <= 600 for p in passages)


def test_verdicts_follow_the_targets() -> None:
    results = {
        "reingest": {"seconds": 12.0},
        "query": {
            "floor": {"p50_ms": 10.0, "p95_ms": 12.0},
            "ask": {"p50_ms": 19.0, "p95_ms": 30.0},
            "warm_s": 3.0,
        },
        "server": {
            "scale": {"first_answer_s": 9.0, "peak_rss_mb": 2100.0},
            "shipped": {"first_answer_s": 7.0, "peak_rss_mb": 900.0},
        },
    }
    lines = {line[:44].strip(): line for line in table(results)}
    assert lines["re-ingest after one changed document"].endswith("MISS")
    assert lines["p50 over the floor's"].endswith("PASS")  # 1.9 x
    assert lines["scale over shipped"].endswith("PASS")  # 1.29 x
    assert lines["server peak RSS (scale)"].endswith("MISS")
