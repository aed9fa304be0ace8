"""Validation of the plan-review classifier on its own training data.

Two views, both reported by ``advisor eval`` beside the development and held-out plans:

- ``cross_validate``: stratified, seeded k-fold cross-validation, per sentence;
- ``leave_one_author_out``: per whole plan. Each file that labels whole plans (its items
  carry ``plan``) was written by its own helper session, so holding one file back and
  training on the rest shows how the review reads an author it has never seen: the
  closest thing to a manager's unseen plan that the training data itself can give. A plan
  *shows* a pattern when any of its lines is labelled ``shows_flaw`` for it, and the model
  *finds* it when any line reads as that flaw at least ``floor`` (the detector's first
  test, without its plan-level rules).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from advisor.knowledge.embeddings import Embedder, VectorCache
from advisor.review.classifier import (
    Example,
    Lexicon,
    class_probabilities,
    classes_of,
    design,
    features,
    fit_head,
    load_examples,
    probabilities,
)


def cross_validate(
    training_dir: Path, embedder: Embedder, patterns: list[str], folds: int = 5
) -> dict[str, list[list[int]]]:
    """Sentence-level confusion per pattern over stratified, seeded k-fold cross-validation.

    Each training sentence is predicted by a head fitted on the other folds; its predicted
    class is the softmax's argmax. Returns, per pattern, a 3 x 3 matrix of counts: rows are
    the true label and columns the predicted one, both in ``LABELS`` order (a sentence about
    another pattern is ``neutral`` for this one). Raises ConfigError on bad training data.
    """
    from sklearn.model_selection import StratifiedKFold

    examples = load_examples(training_dir, patterns)
    texts = [e.text for e in examples]
    dense = features(VectorCache.shared(embedder), texts)
    y = classes_of(examples, patterns)
    predicted = np.zeros_like(y)
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train, test in split.split(dense, y):
        lexicon = Lexicon.fit([texts[i] for i in train])  # the held-back fold's words unseen
        x_train = design(dense[train], lexicon, [texts[i] for i in train])
        weights, bias = fit_head(x_train, [examples[i] for i in train], patterns)
        x_test = design(dense[test], lexicon, [texts[i] for i in test])
        predicted[test] = class_probabilities(x_test, weights, bias).argmax(axis=1)
    confusion = {}
    for j, pattern in enumerate(patterns):
        truth, guess = _per_pattern(y, j), _per_pattern(predicted, j)
        matrix = np.zeros((3, 3), dtype=int)
        np.add.at(matrix, (truth, guess), 1)
        confusion[pattern] = matrix.tolist()
    return confusion


def _per_pattern(classes: np.ndarray, j: int) -> np.ndarray:
    """Class indices as one pattern's labels: 1 its flaw, 2 its guard, 0 anything else."""
    return np.where(classes == 1 + 2 * j, 1, np.where(classes == 2 + 2 * j, 2, 0))


def leave_one_author_out(
    training_dir: Path, embedder: Embedder, patterns: list[str], floor: float
) -> dict[str, dict[str, int]]:
    """Plan-level counts per held-back author file: ``plans``, ``found`` (true positives),
    ``false`` (false positives) and ``missed`` (false negatives).

    One head per whole-plan file, fitted on every other file (about 5 s each on 2 cores once
    the sentences are embedded). Raises ConfigError on bad training data.
    """
    examples = load_examples(training_dir, patterns)
    texts = [e.text for e in examples]
    dense = features(VectorCache.shared(embedder), texts)
    authors = sorted({e.source for e in examples if e.plan})
    counts: dict[str, dict[str, int]] = {}
    for author in authors:
        train = [i for i, e in enumerate(examples) if e.source != author]
        test = [i for i, e in enumerate(examples) if e.source == author]
        lexicon = Lexicon.fit([texts[i] for i in train])
        x_train = design(dense[train], lexicon, [texts[i] for i in train])
        weights, bias = fit_head(x_train, [examples[i] for i in train], patterns)
        x_test = design(dense[test], lexicon, [texts[i] for i in test])
        flaw = probabilities(x_test, weights, bias)[:, :, 1]
        counts[author] = _plan_counts([examples[i] for i in test], flaw, patterns, floor)
    return counts


def _plan_counts(
    examples: list[Example], flaw: np.ndarray, patterns: list[str], floor: float
) -> dict[str, int]:
    """Found, false and missed flaws over the plans of one author's lines."""
    lines: dict[str, list[int]] = defaultdict(list)
    for k, e in enumerate(examples):
        lines[e.plan].append(k)
    found = false = missed = 0
    for rows in lines.values():
        shown = {examples[k].pattern for k in rows if examples[k].label == "shows_flaw"}
        read = {patterns[j] for j in np.flatnonzero(flaw[rows].max(axis=0) >= floor)}
        found += len(shown & read)
        false += len(read - shown)
        missed += len(shown - read)
    return {"plans": len(lines), "found": found, "false": false, "missed": missed}
