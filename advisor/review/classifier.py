"""A sentence classifier for plan review: per failure pattern, does a sentence show the flaw,
guard against it, or neither?

Each plan sentence (with its short heading, as ``advisor.review.plan`` gives it) is embedded
with the advisor's MiniLM model; one multinomial logistic-regression head per pattern reads
the vector and a few cue features (negation, numbers, dates) and gives the probabilities of
``neutral``, ``shows_flaw`` and ``guards_against``. This is the standard "frozen sentence
encoder plus linear head" set-up (as in SetFit's second stage; Tunstall et al., 2022,
"Efficient Few-Shot Learning Without Prompts"), without SetFit's contrastive fine-tuning.

Training reads the labelled sentences in ``<training_dir>/*.yaml`` (scikit-learn, seeded,
seconds on 2 cores). The weights are saved as plain arrays (``.npz``, no pickle) under
``<data_dir>/models``, named by a digest of the training data, the embedder and this
trainer's version, so a changed input means a new file: a missing or stale model is
trained again on first use.
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
from advisor.knowledge.embeddings import Embedder, VectorCache

log = logging.getLogger("advisor.review")
LABELS = ("neutral", "shows_flaw", "guards_against")
TRAINER_VERSION = "1"
REGULARISATION = 4.0  # inverse strength C; chosen by cross-validation on the training data
_NEGATION = re.compile(
    r"(?i)\b(no|not|never|none|nobody|nothing|without|neither|nor|cannot|lack\w*|absent)\b"
    r"|n['’]t\b"
)
_NUMBER = re.compile(r"\d")
_LIMITING = re.compile(r"(?i)\b(only|just|except|merely|solely|alone)\b")
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


def load_examples(folder: Path, patterns: list[str]) -> list[Example]:
    """Every labelled sentence in ``folder/*.yaml``; ConfigError names a bad item."""
    examples: list[Example] = []
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise ConfigError(f"no plan-review training data in {folder} (*.yaml)")
    for path in files:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for n, item in enumerate(data.get("items") or []):
            pattern, label = item.get("pattern"), item.get("label")
            if label not in LABELS or (label != "neutral") != (pattern in patterns):
                raise ConfigError(f"{path.name} item {n}: bad pattern/label {pattern!r}/{label!r}")
            examples.append(
                Example(
                    str(item["text"]).strip(),
                    pattern if label != "neutral" else None,
                    label,
                    str(item.get("group") or "plain"),
                    str(item.get("form") or "prose"),
                    path.name,
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
    """The classifier's input: unit sentence vector (384 for MiniLM) and the cue columns."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.hstack([cache.vectors(texts), cue_features(texts)])


def labels_for(examples: list[Example], pattern: str) -> np.ndarray:
    """Each example's class index for one pattern's head (another pattern's is neutral)."""
    return np.asarray(
        [LABELS.index(e.label) if e.pattern == pattern else 0 for e in examples], dtype=np.int64
    )


def fit_heads(
    x: np.ndarray, examples: list[Example], patterns: list[str], c: float = REGULARISATION
) -> tuple[np.ndarray, np.ndarray]:
    """One multinomial logistic regression per pattern: weights (P, 3, D) and bias (P, 3)."""
    from sklearn.linear_model import LogisticRegression

    weights = np.zeros((len(patterns), len(LABELS), x.shape[1]), dtype=np.float32)
    bias = np.zeros((len(patterns), len(LABELS)), dtype=np.float32)
    for p, pattern in enumerate(patterns):
        y = labels_for(examples, pattern)
        model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=0)
        model.fit(x, y)
        for row, cls in enumerate(model.classes_):
            weights[p, cls], bias[p, cls] = model.coef_[row], model.intercept_[row]
        missing = [cls for cls in range(len(LABELS)) if cls not in model.classes_]
        bias[p, missing] = -1e4  # a class with no examples is never predicted
    return weights, bias


def probabilities(x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """Softmax of every head on every row: shape (n, P, 3)."""
    logits = np.einsum("nd,pcd->npc", x, weights) + bias[None]
    logits -= logits.max(axis=2, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=2, keepdims=True)


class SentenceClassifier:
    """Labels plan sentences per pattern; load with ``for_data`` (trains when needed)."""

    def __init__(
        self, embedder: Embedder, patterns: list[str], weights: np.ndarray, bias: np.ndarray
    ) -> None:
        self.patterns = patterns
        self.weights, self.bias = weights, bias
        self._cache = VectorCache.shared(embedder)

    def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities of (neutral, shows_flaw, guards_against): shape (n, patterns, 3)."""
        if not texts:
            return np.zeros((0, len(self.patterns), len(LABELS)), dtype=np.float32)
        return probabilities(features(self._cache, texts), self.weights, self.bias)

    @classmethod
    def train(
        cls, embedder: Embedder, examples: list[Example], patterns: list[str]
    ) -> SentenceClassifier:
        """Fit every head on the examples."""
        x = features(VectorCache.shared(embedder), [e.text for e in examples])
        weights, bias = fit_heads(x, examples, patterns)
        return cls(embedder, patterns, weights, bias)

    def save(self, path: Path) -> None:
        """Write the weights as arrays (best effort: an unwritable folder costs a retrain)."""
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                np.savez(fh, weights=self.weights, bias=self.bias, patterns=np.array(self.patterns))
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
                return cls(embedder, patterns, data["weights"], data["bias"])
        except FileNotFoundError:
            return None
        except Exception as exc:  # a damaged or foreign file: train again instead
            log.warning("ignoring the plan-review model %s: %s", path, exc)
            return None


_LOCK = threading.Lock()
_LOADED: dict[Path, SentenceClassifier] = {}  # per process: trained or read once


def model_path(data_dir: Path, training_dir: Path, embedder: Embedder) -> Path:
    """Where the model for this training data and embedder lives (the name is its digest)."""
    digest = hashlib.sha1(f"{TRAINER_VERSION}|{REGULARISATION}|{embedder.name}".encode())
    for path in sorted(training_dir.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return data_dir / "models" / f"plan-sentences-{digest.hexdigest()[:16]}.npz"


def for_data(
    data_dir: Path, training_dir: Path, embedder: Embedder, patterns: list[str]
) -> SentenceClassifier:
    """The classifier for the current training data: loaded if saved, else trained and saved."""
    path = model_path(data_dir, training_dir, embedder)
    key = path  # the name already digests the data, the embedder and the trainer
    with _LOCK:
        if key in _LOADED:
            return _LOADED[key]
        found = SentenceClassifier.load(path, embedder)
        if found is None or found.patterns != patterns:
            log.info("training the plan-review classifier (%s)", path.name)
            examples = load_examples(training_dir, patterns)
            found = SentenceClassifier.train(embedder, examples, patterns)
            found.save(path)
        _LOADED[key] = found
        return found


def describe(probs: np.ndarray) -> dict[str, Any]:
    """A row of probabilities as the label and its confidence, for findings and tests."""
    best = int(np.argmax(probs))
    return {"label": LABELS[best], "confidence": round(float(probs[best]), 3)}
