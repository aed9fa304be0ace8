"""TF-IDF of word n-grams: fitted by scikit-learn, applied with NumPy and SciPy alone.

The two learned readers (question types, ``advisor.ask.qtypes``; plan sentences,
``advisor.review.classifier``) put word n-gram columns beside the sentence vector.
scikit-learn's ``TfidfVectorizer`` fits them. Serving only applies the fitted vocabulary and
idf weights, and importing scikit-learn (with the parts of SciPy it pulls in) costs about
2.7 s and 80 MB in every process that answers, so ``transform`` repeats
``TfidfVectorizer.transform`` for the settings used here: a word analyser (preprocessor or
lower-casing, ``token_pattern``, n-grams as ``_word_ngrams`` makes them), raw counts,
optional sublinear tf (1 + log tf), idf, L2 norm. ``tests/advisor/knowledge/test_tfidf.py``
holds the two equal on the training texts and on texts neither reader has seen.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(eq=False)
class NgramTfidf:
    """A fitted TF-IDF over word n-grams: ``vocabulary[j]`` is column ``j``, weight ``idf[j]``.

    ``preprocessor`` replaces lower-casing, as in scikit-learn (it must lower-case itself).
    """

    vocabulary: list[str]
    idf: np.ndarray  # (len(vocabulary),) float64
    ngram_range: tuple[int, int] = (1, 1)
    token_pattern: str = r"(?u)\b\w\w+\b"
    preprocessor: Callable[[str], str] | None = None
    sublinear_tf: bool = False
    dtype: Any = np.float64
    _index: dict[str, int] = field(init=False, repr=False)
    _tokens: Callable[[str], list[str]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.vocabulary) != len(self.idf):
            raise ValueError(f"{len(self.vocabulary)} n-grams but {len(self.idf)} idf weights")
        self._index = {gram: j for j, gram in enumerate(self.vocabulary)}
        self._tokens = re.compile(self.token_pattern).findall

    @classmethod
    def fit(cls, texts: list[str], *, min_df: int = 1, **config: Any) -> tuple[NgramTfidf, Any]:
        """Fit on ``texts`` with scikit-learn; the fitted weights and the texts' sparse rows.

        ``config`` takes this class's settings (``ngram_range``, ``token_pattern``,
        ``preprocessor``, ``sublinear_tf``, ``dtype``). Raises ValueError when no n-gram
        occurs in ``min_df`` texts.
        """
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(min_df=min_df, **config)
        rows = vectorizer.fit_transform(texts)
        order = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        return cls(order, np.asarray(vectorizer.idf_, dtype=np.float64), **config), rows

    def analyse(self, text: str) -> list[str]:
        """The n-grams of ``text``, repeats kept, as scikit-learn's word analyser makes them."""
        prepared = self.preprocessor(text) if self.preprocessor else text.lower()
        tokens = self._tokens(prepared)
        low, high = self.ngram_range
        grams = list(tokens) if low == 1 else []
        for n in range(max(low, 2), min(high, len(tokens)) + 1):
            grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def transform(self, texts: list[str]) -> Any:
        """A SciPy CSR matrix (len(texts), len(vocabulary)) of L2-normalised TF-IDF rows."""
        from scipy.sparse import csr_matrix

        indptr, indices, values = [0], [], []
        for text in texts:
            counts = Counter(j for g in self.analyse(text) if (j := self._index.get(g)) is not None)
            columns = sorted(counts)
            tf = np.array([counts[j] for j in columns], dtype=np.float64)
            if self.sublinear_tf:
                tf = 1.0 + np.log(tf)
            row = tf * self.idf[columns] if columns else tf
            norm = float(np.sqrt(row @ row))
            values.append(row / norm if norm > 0 else row)
            indices += columns
            indptr.append(len(indices))
        data = np.concatenate(values) if values else np.zeros(0)
        shape = (len(texts), len(self.vocabulary))
        return csr_matrix((data.astype(self.dtype), indices, indptr), shape=shape)
