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
``training/question-types/*.yaml`` (``ADVISOR_QUESTION_TRAINING_DIR``). scikit-learn
trains the reader (about 1.5 s on 2 cores, more when the questions' vectors are not cached)
on first use, and it is saved as plain arrays (``.npz``, no pickle) in the model folder
(``Settings.models_dir``), named by a digest of the training data, the embedder and this
layout's version; later processes load it in milliseconds and never import scikit-learn.
The choice of columns and weights, and the figures, are in
``training/question-types/README.md``.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from advisor.ask.questions import QUESTION_TYPES, asked_text, rule_matches
from advisor.config import Settings
from advisor.errors import ConfigError
from advisor.knowledge.corpus import YAML_LOADER
from advisor.knowledge.embeddings import Embedder, VectorCache
from advisor.knowledge.files import digest_folder, write_atomic
from advisor.knowledge.tfidf import NgramTfidf

log = logging.getLogger("advisor.ask")
VERSION = "2"  # of the saved reader's layout and columns; 2: the vector's width saved
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


_GRAMS: dict[str, Any] = {"ngram_range": (1, 3), "sublinear_tf": True, "token_pattern": r"\S+"}


class QuestionTyper:
    """Reads a question's form; build with ``shared`` (loads or trains once per process).

    The head is plain arrays, so answering needs NumPy and SciPy, not scikit-learn:
    ``weights`` (types, columns), ``bias`` (types,), ``labels`` (types,).
    """

    def __init__(
        self,
        embedder: Embedder,
        head: tuple[np.ndarray, np.ndarray, list[str]],
        grams: NgramTfidf,
        texts: list[str],
    ):
        self._cache = VectorCache.shared(embedder)
        self.weights, self.bias, self.labels = head
        self.grams = grams
        self.texts = texts  # the training questions as embedded, for the warm-up's cache

    def _design(self, asked: list[str]) -> Any:
        from scipy.sparse import csr_matrix, hstack

        vectors = self._cache.vectors(asked) * EMBED_WEIGHT
        rules = np.array([rule_matches(a) for a in asked], dtype=np.float32)
        grams = self.grams.transform([_marked(a) for a in asked])
        return hstack([csr_matrix(vectors), csr_matrix(rules), grams]).tocsr()

    def classify_many(self, questions: list[str]) -> list[str]:
        """The form of each question, read from its asking sentence; raises EmbeddingError."""
        if not questions:
            return []
        asked = self.embedded(questions)
        scores = np.asarray(self._design(asked) @ self.weights.T) + self.bias
        return [self.labels[i] for i in scores.argmax(axis=1)]

    @staticmethod
    def embedded(questions: list[str]) -> list[str]:
        """The texts the reader embeds for ``questions``: each one's asking sentence."""
        return [asked_text(q) or q.strip() or "?" for q in questions]

    def classify(self, question: str) -> str:
        """The form of one question: one of ``QUESTION_TYPES``."""
        return self.classify_many([question])[0]

    @classmethod
    def train(cls, embedder: Embedder, examples: list[LabelledQuestion]) -> QuestionTyper:
        """Fit the n-gram vocabulary and the head on ``examples`` (scikit-learn, seeded)."""
        from sklearn.linear_model import LogisticRegression

        asked = [asked_text(q.text) or q.text for q in examples]
        grams, _ = NgramTfidf.fit([_marked(a) for a in asked], **_GRAMS)
        typer = cls(embedder, (np.zeros(0), np.zeros(0), []), grams, asked)
        model = LogisticRegression(C=REGULARISATION, max_iter=3000, random_state=0)
        model.fit(typer._design(asked), [q.qtype for q in examples])
        weights, bias = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # a binary fit keeps one row: the second class's score
            weights, bias = np.vstack([-weights, weights]) / 2, np.hstack([-bias, bias]) / 2
        typer.weights, typer.bias = weights.astype(np.float64), bias.astype(np.float64)
        typer.labels = [str(c) for c in model.classes_]
        return typer

    def save(self, path: Path) -> None:
        """Write the head, n-grams and training texts as arrays; an unwritable folder only
        costs the next process a retrain."""
        dense = self.weights.shape[1] - len(rule_matches("?")) - len(self.grams.vocabulary)
        arrays: dict[str, Any] = {"weights": self.weights, "bias": self.bias, "dense": dense}
        arrays |= {"labels": np.array(self.labels), "texts": np.array(self.texts)}
        arrays |= {"vocabulary": np.array(self.grams.vocabulary), "idf": self.grams.idf}
        try:
            write_atomic(path, lambda fh: np.savez(fh, version=np.array(VERSION), **arrays))
        except OSError as exc:
            log.warning("could not save the question-type reader %s: %s", path, exc)

    @classmethod
    def load(cls, path: Path, embedder: Embedder) -> QuestionTyper | None:
        """The saved reader, or None when the file is missing, damaged or of another version."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["version"]) != VERSION:
                    raise ValueError("written by another version")
                grams = NgramTfidf([str(w) for w in data["vocabulary"]], data["idf"], **_GRAMS)
                head = (data["weights"], data["bias"], [str(t) for t in data["labels"]])
                # The sentence vector's width, then one column per rule and per n-gram.
                columns = int(data["dense"]) + len(rule_matches("?")) + len(grams.vocabulary)
                if head[0].shape != (len(head[2]), columns):
                    raise ValueError(f"weights of shape {head[0].shape} for {columns} columns")
                return cls(embedder, head, grams, [str(t) for t in data["texts"]])
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged or foreign file: train again instead
            log.warning("ignoring the question-type reader %s: %s", path, exc)
            return None

    @classmethod
    def shared(cls, embedder: Embedder, training_dir: Path, model_dir: Path) -> QuestionTyper:
        """The reader for this embedder and training folder: loaded from ``model_dir`` if
        saved, else trained (about 1.5 s) and saved, once per process.

        Raises ConfigError on bad training data, EmbeddingError when the model fails.
        """
        # Keyed by the folders, not the file's digest: a question must not re-read the
        # training files (nor retrain mid-request when they change; a restart does that).
        where = (str(Path(training_dir).resolve()), str(Path(model_dir).resolve()))
        with _LOCK:
            loaded = _LOADED.setdefault(embedder, {})
            if where not in loaded:
                path = model_path(model_dir, training_dir, embedder)
                typer = cls.load(path, embedder)
                if typer is None:
                    typer = cls.train(embedder, load_questions(Path(training_dir)))
                    typer.save(path)
                loaded[where] = typer
            return loaded[where]

    @classmethod
    def for_settings(cls, embedder: Embedder, settings: Settings) -> QuestionTyper:
        """``shared`` with the settings' training folder and model folder."""
        return cls.shared(embedder, settings.question_training_dir, settings.models_dir)


def model_path(model_dir: Path, training_dir: Path, embedder: Embedder) -> Path:
    """Where the reader for this training data and embedder is saved (named by a digest)."""
    digest = hashlib.sha1(f"{VERSION}|{REGULARISATION}|{EMBED_WEIGHT}|{embedder.name}".encode())
    # The code that makes the columns (the cue rules, the asking sentence, the n-grams) is
    # part of what made the file: a changed rule is a new file, never a stale one.
    for source in (Path(__file__), Path(__file__).with_name("questions.py")):
        digest.update(source.read_bytes())
    digest_folder(digest, Path(training_dir))
    return Path(model_dir) / f"question-types-{digest.hexdigest()[:16]}.npz"


_LOCK = threading.Lock()
# Per embedder, by (training folder, model folder): made once per process.
_LOADED: weakref.WeakKeyDictionary[Any, dict[tuple[str, str], QuestionTyper]] = (
    weakref.WeakKeyDictionary()
)
