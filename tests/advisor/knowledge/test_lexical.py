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
