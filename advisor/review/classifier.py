"""A sentence classifier for plan review: for each failure pattern, does a sentence show the
flaw, guard against it, or neither?

Each plan sentence (with its short heading, as ``advisor.review.plan`` gives it) is embedded
with the advisor's MiniLM model, and one multinomial logistic regression reads the vector,
four cue columns (negation, limiting words, numbers, later-in-time words) and the TF-IDF of
its word unigrams and bigrams, the words after a negation marked (``mark_negation``). Its
classes are ``neutral`` and, per pattern, ``shows_flaw`` and ``guards_against`` (1 + 2 x 12 = 25),
so a sentence's readings compete: it is about one pattern, one way, or about none. This is
the "frozen sentence encoder plus linear head" set-up of SetFit's second stage (Tunstall et
al., 2022, "Efficient Few-Shot Learning Without Prompts"), without its contrastive
fine-tuning: fine-tuning MiniLM measured worse on the development plans, and the n-gram
columns better (the figures are in ``training/plan-sentences/README.md``).

Training reads the labelled sentences in ``<training_dir>/*.yaml`` (scikit-learn, seeded,
about 2 minutes on 2 cores). The weights are saved as plain arrays (``.npz``, no pickle) in
the model folder (``ADVISOR_REVIEW_MODEL_DIR``, by default ``<data_dir>/models``), named by
a digest of the training data, the embedder and this trainer's version, so a changed input
means a new file: a missing or stale model is trained again on first use, or ahead of time
by ``advisor train-review`` (``make model``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from advisor.errors import ConfigError
from advisor.knowledge.corpus import YAML_LOADER
from advisor.knowledge.embeddings import Embedder, VectorCache, embed_matrix
from advisor.knowledge.files import digest_folder
from advisor.knowledge.tfidf import NgramTfidf

log = logging.getLogger("advisor.review")
LABELS = ("neutral", "shows_flaw", "guards_against")
TRAINER_VERSION = "7"  # 5: recorded in the file; 7: "not only" neither negates nor limits
REGULARISATION = 16.0  # inverse strength C; chosen on the development plans
LEXICAL_WEIGHT = 2.0  # scale of the n-gram columns beside the unit sentence vector; ditto
# "not only the licence" is additive: it neither denies nor limits (see ``mark_negation``).
_ADDITIVE = frozenset({"only", "just", "merely", "simply", "solely"})
_NOT_ADDITIVE = r"(?!\s+(?:only|just|merely|simply|solely)\b)"
_NEGATION = re.compile(
    r"(?i)\b(no|not" + _NOT_ADDITIVE + r"|never|none|nobody|nothing|without|neither|nor|cannot"
    r"|lack\w*|absent)\b|n['’]t\b"
)
_NUMBER = re.compile(r"\d")
_LIMITING = re.compile(r"(?i)\b(?<!not )(only|just|except|merely|solely|alone)\b")
_LATER = re.compile(r"(?i)\b(after|later|afterwards|once|then|eventually|phase [2-9]|tbc|tbd)\b")


@dataclass(frozen=True)
class Example:
    """One labelled sentence of the training data."""

    text: str
    pattern: str | None  # None for neutral sentences
    label: str  # one of LABELS
    group: str = "plain"  # negation, partial, sequence, quantity, hedged, plain
    form: str = "prose"
    source: str = ""  # the file it came from
    plan: str = ""  # the whole plan it belongs to, in the files that label whole plans


def load_examples(folder: Path, patterns: list[str]) -> list[Example]:
    """Every labelled sentence in ``folder/*.yaml``; ConfigError names a bad item."""
    examples: list[Example] = []
    seen: set[tuple[str, str | None, str]] = set()
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no plan-review training data in {folder} (*.yaml)")
    for path in files:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
        for n, item in enumerate(data.get("items") or []):
            pattern, label = item.get("pattern"), item.get("label")
            if label not in LABELS or (label != "neutral") != (pattern in patterns):
                raise ConfigError(f"{path.name} item {n}: bad pattern/label {pattern!r}/{label!r}")
            key = (str(item["text"]).strip().lower(), pattern, label)
            if key in seen:
                continue  # the same line in two plans ("Rollout") teaches nothing twice
            seen.add(key)
            examples.append(
                Example(
                    str(item["text"]).strip(),
                    pattern if label != "neutral" else None,
                    label,
                    str(item.get("group") or "plain"),
                    str(item.get("form") or "prose"),
                    path.name,
                    str(item.get("plan") or ""),
                )
            )
    return examples


def cue_features(texts: list[str]) -> np.ndarray:
    """Negation, limiting words, numbers and later-in-time words, one 0/1 column each."""
    rows = [
        [float(bool(rx.search(t))) for rx in (_NEGATION, _LIMITING, _NUMBER, _LATER)] for t in texts
    ]
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), 4)


def features(cache: VectorCache, texts: list[str]) -> np.ndarray:
    """The dense inputs: unit sentence vector (384 for MiniLM) and the cue columns."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.hstack([cache.vectors(texts), cue_features(texts)])


class Lexicon(NgramTfidf):
    """TF-IDF of word unigrams and bigrams, negation marked, fitted on the training sentences.

    The sentence vector blurs the words that decide a reading ("alongside their day jobs",
    "no pilot", "only the database"); the n-grams keep them. Stored as plain arrays.
    """

    def __init__(self, vocabulary: list[str], idf: np.ndarray) -> None:
        super().__init__(vocabulary, idf, **_LEXICON)

    @classmethod
    def fit(cls, texts: list[str]) -> Lexicon:  # type: ignore[override]
        """The n-grams seen in at least two training sentences, with their idf weights."""
        fitted, _ = NgramTfidf.fit(texts, min_df=2, **_LEXICON)
        return cls(fitted.vocabulary, fitted.idf)


_NEGATOR = re.compile(
    r"^(no|not|never|none|nobody|nothing|without|neither|nor|cannot|n't|.*n't|.*n’t)$"
)
_TOKEN = re.compile(r"[\w'’]+|[.,;:!?()|]")


def mark_negation(text: str) -> str:
    """Lower-case words, each one after a negation prefixed ``not_`` up to the next punctuation.

    "We will not switch everyone over at once" becomes "we will not not_switch not_everyone
    …", so the n-grams of a flaw ("switch everyone") do not fire when it is denied. The
    negation marking of Das and Chen (2001) and Pang, Lee and Vaithyanathan (2002, "Thumbs
    up? Sentiment classification using machine learning techniques").
    """
    words, negated = [], False
    tokens = _TOKEN.findall(text.lower())
    for at, token in enumerate(tokens):
        if token in ".,;:!?()|":
            negated = False
        elif token == "not" and tokens[at + 1 : at + 2] and tokens[at + 1] in _ADDITIVE:
            # After "not", these make an additive ("not only the licence but training too"):
            # the words that follow are affirmed, not denied, and keep their own n-grams.
            words.append(token)
        elif _NEGATOR.match(token):
            words.append(token)
            negated = True
        else:
            words.append(f"not_{token}" if negated else token)
    return " ".join(words)


_LEXICON: dict[str, Any] = {
    "ngram_range": (1, 2),
    "sublinear_tf": True,
    "preprocessor": mark_negation,
    "token_pattern": r"[^ ]+",
    "dtype": np.float32,
}


def design(dense: np.ndarray, lexicon: Lexicon, texts: list[str]) -> Any:
    """The head's full input: dense columns, then the weighted n-gram columns (sparse)."""
    from scipy.sparse import csr_matrix, hstack

    return hstack([csr_matrix(dense), lexicon.transform(texts) * LEXICAL_WEIGHT]).tocsr()


def classes_of(examples: list[Example], patterns: list[str]) -> np.ndarray:
    """Each example's class: 0 neutral, 1 + 2p shows pattern p, 2 + 2p guards against it."""
    classes = [
        0 if e.pattern is None else 1 + 2 * patterns.index(e.pattern) + (e.label != "shows_flaw")
        for e in examples
    ]
    return np.asarray(classes, dtype=np.int64)


def fit_head(
    x: Any, examples: list[Example], patterns: list[str], c: float = REGULARISATION
) -> tuple[np.ndarray, np.ndarray]:
    """One multinomial logistic regression over all classes: weights (K, D), bias (K,)."""
    from sklearn.linear_model import LogisticRegression

    k = 1 + 2 * len(patterns)
    y = classes_of(examples, patterns)
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced", random_state=0)
    model.fit(x, y)
    weights = np.zeros((k, x.shape[1]), dtype=np.float32)
    bias = np.full(k, -1e4, dtype=np.float32)  # a class with no examples is never predicted
    for row, cls in enumerate(model.classes_):
        weights[cls], bias[cls] = model.coef_[row], model.intercept_[row]
    return weights, bias


def class_probabilities(x: Any, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The head's softmax over all classes, for dense or sparse rows: shape (n, 1 + 2P)."""
    logits = np.asarray(x @ weights.T) + bias
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def probabilities(x: Any, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """The head's softmax on every row, folded to shape (n, P, 3): neutral, flaw, guard.

    A pattern's ``neutral`` is everything that is not that pattern's flaw or guard.
    """
    full = class_probabilities(x, weights, bias)
    out = np.zeros((x.shape[0], (weights.shape[0] - 1) // 2, 3), dtype=np.float32)
    out[:, :, 1], out[:, :, 2] = full[:, 1::2], full[:, 2::2]
    out[:, :, 0] = 1.0 - out[:, :, 1] - out[:, :, 2]
    return out


class SentenceClassifier:
    """Labels plan sentences per pattern; load with ``for_data`` (trains when needed)."""

    def __init__(
        self,
        embedder: Embedder,
        patterns: list[str],
        weights: np.ndarray,
        bias: np.ndarray,
        lexicon: Lexicon,
    ) -> None:
        self.patterns = patterns
        self.weights, self.bias, self.lexicon = weights, bias, lexicon
        self._cache = VectorCache.shared(embedder)

    def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities of (neutral, shows_flaw, guards_against): shape (n, patterns, 3)."""
        return self.read(texts)[0]

    def read(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The probabilities, shape (n, patterns, 3), and the sentence vectors, (n, 384).

        Plan sentences are embedded afresh, not through the shared cache: a user's plan
        rarely recurs, and it would push out the corpus sentences the cache is for.
        Raises EmbeddingError when the model fails.
        """
        if not texts:
            empty = np.zeros((0, len(self.patterns), len(LABELS)), dtype=np.float32)
            return empty, np.zeros((0, 0), dtype=np.float32)
        vectors = embed_matrix(self._cache.embedder, texts)
        x = design(np.hstack([vectors, cue_features(texts)]), self.lexicon, texts)
        return probabilities(x, self.weights, self.bias), vectors

    @classmethod
    def train(
        cls, embedder: Embedder, examples: list[Example], patterns: list[str]
    ) -> SentenceClassifier:
        """Fit the lexicon and the head on the examples."""
        texts = [e.text for e in examples]
        lexicon = Lexicon.fit(texts)
        x = design(features(VectorCache.shared(embedder), texts), lexicon, texts)
        weights, bias = fit_head(x, examples, patterns)
        return cls(embedder, patterns, weights, bias, lexicon)

    def save(self, path: Path) -> None:
        """Write the weights as arrays (best effort: an unwritable folder costs a retrain)."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.savez(
                    fh,
                    weights=self.weights,
                    bias=self.bias,
                    patterns=np.array(self.patterns),
                    vocabulary=np.array(self.lexicon.vocabulary),
                    idf=self.lexicon.idf,
                    version=np.array(TRAINER_VERSION),
                )
            os.replace(tmp, path)
        except OSError as exc:
            log.warning("could not save the plan-review model %s: %s", path, exc)
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, embedder: Embedder) -> SentenceClassifier | None:
        """The saved classifier, or None when the file is missing or unreadable."""
        try:
            with np.load(path, allow_pickle=False) as data:
                patterns = [str(p) for p in data["patterns"]]
                lexicon = Lexicon([str(w) for w in data["vocabulary"]], data["idf"])
                if "version" not in data or str(data["version"]) != TRAINER_VERSION:
                    raise ValueError("written by another trainer version (another input layout)")
                return cls(embedder, patterns, data["weights"], data["bias"], lexicon)
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged or foreign file: train again instead
            log.warning("ignoring the plan-review model %s: %s", path, exc)
            return None


_LOCK = threading.Lock()
_LOADED: dict[str, SentenceClassifier] = {}  # per process, by model file name: made once


def model_path(model_dir: Path, training_dir: Path, embedder: Embedder) -> Path:
    """Where the model for this training data and embedder lives (the name is its digest)."""
    digest = hashlib.sha1(
        f"{TRAINER_VERSION}|{REGULARISATION}|{LEXICAL_WEIGHT}|{embedder.name}".encode()
    )
    digest_folder(digest, Path(training_dir))
    return model_dir / f"plan-sentences-{digest.hexdigest()[:16]}.npz"


def for_data(
    model_dir: Path, training_dir: Path, embedder: Embedder, patterns: list[str]
) -> SentenceClassifier:
    """The classifier for the current training data: loaded if saved, else trained and saved.

    Models are named by the digest of what made them, so one folder can serve many data
    folders, and a process trains each model at most once. Raises ConfigError on bad
    training data.
    """
    path = model_path(model_dir, training_dir, embedder)
    with _LOCK:
        found = _LOADED.get(path.name)
        if found is not None and path.exists():
            return found
        on_disk = SentenceClassifier.load(path, embedder) if found is None else None
        found = on_disk or found
        if found is None or found.patterns != patterns:
            # A notice, not a debug line: the first review waits for it (about 2 minutes).
            log.warning("training the plan-review classifier once (%s); about 2 minutes", path.name)
            examples = load_examples(training_dir, patterns)
            found = SentenceClassifier.train(embedder, examples, patterns)
        if on_disk is None:  # missing or damaged: write it for the next process
            found.save(path)
        _LOADED[path.name] = found
        return found
