"""The question's form, learned: which of ``QUESTION_TYPES`` a manager's question is.

The form decides what an answer's first sentence must give (a stance, the option chosen, a
role, a figure, a definition, a reason, a first step, the items of a list). Hand-written
rules alone read the development questions well and questions written by others badly, so
one multinomial logistic regression reads three groups of columns of the asking sentence:

- its MiniLM vector (the advisor's embedder, through the shared vector cache), weighted;
- one column per hand-written rule of ``advisor.ask.questions`` that matches it;
- the TF-IDF of its word 1- to 3-grams, with start and end markers, so the opening words
  ("who", "is it", "how many") count where they stand.

This is the frozen-encoder-plus-linear-head set-up of SetFit's second stage (Tunstall et
al., 2022) with lexical and rule columns beside it. The labelled questions are
``training/question-types/*.yaml`` (``ADVISOR_QUESTION_TRAINING_DIR``); training takes about
three seconds on 2 cores (embedding the questions) and happens once per process, on first
use; ``Advisor.warm`` saves the questions' vectors with the others, so a later process
trains in well under a second. The choice of columns and weights, and the figures, are in
``training/question-types/README.md``.
"""

from __future__ import annotations

import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from advisor.ask.questions import QUESTION_TYPES, asked_text, rule_matches
from advisor.errors import ConfigError
from advisor.knowledge.corpus import YAML_LOADER
from advisor.knowledge.embeddings import Embedder, VectorCache

EMBED_WEIGHT = 3.0  # scale of the unit sentence vector beside the rule and n-gram columns
REGULARISATION = 10.0  # inverse strength C
_WORDS = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class LabelledQuestion:
    """One training question and its form."""

    text: str
    qtype: str  # one of QUESTION_TYPES


def load_questions(folder: Path) -> list[LabelledQuestion]:
    """Every labelled question in ``folder/*.yaml``; raises ConfigError on bad data."""
    items: list[LabelledQuestion] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
            rows = data["questions"]
            items += [LabelledQuestion(str(r["text"]), str(r["type"])) for r in rows]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
            raise ConfigError(f"bad question-type training file {path}: {exc}") from exc
    unknown = sorted({q.qtype for q in items} - set(QUESTION_TYPES))
    if unknown:
        raise ConfigError(f"unknown question types in {folder}: {', '.join(unknown)}")
    if len({q.qtype for q in items}) < 2:
        raise ConfigError(f"no labelled questions of two types or more in {folder}")
    return items


def _marked(text: str) -> str:
    return " ".join(["qqstart", *_WORDS.findall(text.lower()), "qqend"])


class QuestionTyper:
    """Reads a question's form; build with ``shared`` (trains once per process)."""

    def __init__(self, embedder: Embedder, model: Any, vectorizer: Any, texts: list[str]):
        self._cache = VectorCache.shared(embedder)
        self._model, self._vectorizer = model, vectorizer
        self.texts = texts  # the training questions as embedded, for the warm-up's cache

    def _design(self, asked: list[str]) -> Any:
        from scipy.sparse import csr_matrix, hstack

        vectors = self._cache.vectors(asked) * EMBED_WEIGHT
        rules = np.array([rule_matches(a) for a in asked], dtype=np.float32)
        grams = self._vectorizer.transform([_marked(a) for a in asked])
        return hstack([csr_matrix(vectors), csr_matrix(rules), grams]).tocsr()

    def classify_many(self, questions: list[str]) -> list[str]:
        """The form of each question, read from its asking sentence; raises EmbeddingError."""
        if not questions:
            return []
        asked = [asked_text(q) or q.strip() or "?" for q in questions]
        return [str(t) for t in self._model.predict(self._design(asked))]

    def classify(self, question: str) -> str:
        """The form of one question: one of ``QUESTION_TYPES``."""
        return self.classify_many([question])[0]

    @classmethod
    def train(cls, embedder: Embedder, examples: list[LabelledQuestion]) -> QuestionTyper:
        """Fit the n-gram vocabulary and the head on ``examples`` (seeded, deterministic)."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        asked = [asked_text(q.text) or q.text for q in examples]
        vectorizer = TfidfVectorizer(ngram_range=(1, 3), sublinear_tf=True, token_pattern=r"\S+")
        vectorizer.fit([_marked(a) for a in asked])
        typer = cls(embedder, None, vectorizer, asked)
        model = LogisticRegression(C=REGULARISATION, max_iter=3000, random_state=0)
        typer._model = model.fit(typer._design(asked), [q.qtype for q in examples])
        return typer

    @classmethod
    def shared(cls, embedder: Embedder, training_dir: Path) -> QuestionTyper:
        """The typer for this embedder and training folder, trained on first use.

        Raises ConfigError on bad training data, EmbeddingError when the model fails.
        """
        folder = str(Path(training_dir).resolve())
        with _LOCK:
            trained = _TRAINED.setdefault(embedder, {})
            if folder not in trained:
                trained[folder] = cls.train(embedder, load_questions(Path(folder)))
            return trained[folder]


_LOCK = threading.Lock()
_TRAINED: weakref.WeakKeyDictionary[Any, dict[str, QuestionTyper]] = weakref.WeakKeyDictionary()
