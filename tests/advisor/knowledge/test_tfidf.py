"""The n-gram TF-IDF that serving applies without scikit-learn equals scikit-learn's own."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from advisor.ask import qtypes
from advisor.knowledge.tfidf import NgramTfidf
from advisor.review import classifier

TRAIN = [
    "We will not switch everyone over at once; the pilot comes first.",
    "Sales owns the CRM, and IT runs it.",
    "sales owns the customer data and the CRM roadmap",
    "No pilot, no fallback: all twelve offices move on 1 April.",
    "Who should own the CRM project?",
    "who owns the data, and who owns the CRM?",
    "How many custom fields is too many? too many fields, too many fields",
]
UNSEEN = [
    "",
    "zzz qqq",  # no known n-gram: an all-zero row
    "The CRM the CRM the CRM owns owns sales.",
    "We won't load the spreadsheets, only the database.",
    "WHO OWNS THE CRM?",
    "Ünïcode — owns the café's CRM",
]


@pytest.mark.parametrize(
    ("config", "min_df", "prepare"),
    [
        ({"ngram_range": (1, 3), "sublinear_tf": True, "token_pattern": r"\S+"}, 1, qtypes._marked),
        (classifier._LEXICON, 2, str),  # the plan-review lexicon, negation marked
        ({"ngram_range": (2, 2)}, 1, str),  # scikit-learn's defaults otherwise
    ],
)
def test_transform_equals_scikit_learns(config: dict[str, Any], min_df: int, prepare: Any) -> None:
    train = [prepare(t) for t in TRAIN]
    reference = TfidfVectorizer(min_df=min_df, **config).fit(train)
    ours, rows = NgramTfidf.fit(train, min_df=min_df, **config)
    assert ours.vocabulary == sorted(reference.vocabulary_, key=reference.vocabulary_.get)
    texts = train + [prepare(t) for t in UNSEEN]
    want = reference.transform(texts).toarray()
    got = ours.transform(texts)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert np.allclose(got.toarray(), want, atol=1e-6)
    assert np.allclose(rows.toarray(), want[: len(train)], atol=1e-6)
    assert ours.transform([]).shape == (0, len(ours.vocabulary))


def test_the_saved_plan_review_lexicon_reads_as_the_trained_one(tmp_path: Any) -> None:
    lexicon = classifier.Lexicon.fit(TRAIN)
    again = classifier.Lexicon(list(lexicon.vocabulary), lexicon.idf.copy())
    assert again.preprocessor is classifier.mark_negation and again.ngram_range == (1, 2)
    assert np.array_equal(again.transform(UNSEEN).toarray(), lexicon.transform(UNSEEN).toarray())


def test_a_vocabulary_and_weights_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="2 n-grams but 1 idf"):
        NgramTfidf(["a", "b"], np.ones(1))
