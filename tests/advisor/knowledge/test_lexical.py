"""The sparse BM25 scores exactly as rank_bm25's BM25Okapi, which retrieval was tuned with."""

from __future__ import annotations

import numpy as np
from rank_bm25 import BM25Okapi

from advisor.config import PROJECT_ROOT
from advisor.knowledge.corpus import load_corpus, split_document
from advisor.knowledge.lexical import LexicalIndex
from advisor.text import content_terms
from evals.harness import questions


def test_scores_and_idf_match_rank_bm25_on_the_shipped_corpus() -> None:
    passages = [p for d in load_corpus(PROJECT_ROOT / "corpus") for p in split_document(d)]
    terms = [content_terms(f"{p.title} {p.section} {p.text}") for p in passages]
    reference, index = BM25Okapi(terms), LexicalIndex(terms)
    for question in questions():
        query = content_terms(question)
        assert np.allclose(index.scores(query), reference.get_scores(query), atol=1e-9)
    assert all(abs(index.idf(t) - v) < 1e-9 for t, v in reference.idf.items())
    assert index.vocabulary == set(reference.idf)


def test_repeated_unknown_and_empty_queries() -> None:
    index = LexicalIndex([["pilot", "region"], ["pilot", "pilot", "budget"], ["owner"]])
    reference = BM25Okapi([["pilot", "region"], ["pilot", "pilot", "budget"], ["owner"]])
    for query in (["pilot", "pilot"], ["pilot", "nowhere"], ["nowhere"], []):
        assert np.allclose(index.scores(query), reference.get_scores(query))
    assert index.idf("nowhere") == index.max_idf


def test_a_saved_index_loads_with_the_same_scores(tmp_path) -> None:  # type: ignore[no-untyped-def]
    passages = [p for d in load_corpus(PROJECT_ROOT / "corpus") for p in split_document(d)]
    terms = [content_terms(f"{p.title} {p.section} {p.text}") for p in passages]
    index = LexicalIndex(terms)
    path = tmp_path / "cache" / "lexical-x.npz"
    index.save(path, {"pilot", "owner"})
    loaded = LexicalIndex.load(path)
    assert loaded is not None
    again, words = loaded
    assert words == {"pilot", "owner"} and again.size == index.size
    assert again.vocabulary == index.vocabulary
    for question in questions()[:20]:
        query = content_terms(question)
        assert np.array_equal(again.scores(query), index.scores(query))
        assert all(again.idf(t) == index.idf(t) for t in query)


def test_a_damaged_or_missing_saved_index_is_rebuilt_not_trusted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert LexicalIndex.load(tmp_path / "absent.npz") is None
    bad = tmp_path / "lexical-bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert LexicalIndex.load(bad) is None


def test_the_saved_path_changes_with_row_order_and_content(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from advisor.knowledge.lexical import saved_path

    base = saved_path(tmp_path, ["a#0", "b#0"], {"a#0": "1", "b#0": "2"}, b"recipe")
    assert base == saved_path(tmp_path, ["a#0", "b#0"], {"b#0": "2", "a#0": "1"}, b"recipe")
    assert base != saved_path(tmp_path, ["b#0", "a#0"], {"a#0": "1", "b#0": "2"}, b"recipe")
    assert base != saved_path(tmp_path, ["a#0", "b#0"], {"a#0": "1", "b#0": "3"}, b"recipe")
    assert base != saved_path(tmp_path, ["a#0", "b#0"], {"a#0": "1", "b#0": "2"}, b"other")
