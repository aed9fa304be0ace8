"""The plan-sentence classifier: its training data, training, saving, and how detection uses it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from advisor.config import PROJECT_ROOT
from advisor.errors import ConfigError
from advisor.patterns import PATTERNS
from advisor.review import classifier as C
from advisor.review.detect import read_pattern
from advisor.review.plan import parse_plan

TRAINING = PROJECT_ROOT / "training" / "plan-sentences"


def _tiny(folder: Path, extra: str = "") -> Path:
    """One flaw and one guard sentence per pattern, and two neutral ones."""
    items: list[dict[str, Any]] = [
        {"text": f"{p.replace('_', ' ')} is what this plan shows{extra}.", "pattern": p,
         "label": "shows_flaw"}
        for p in PATTERNS
    ] + [
        {"text": f"We guard against {p.replace('_', ' ')} from day one.", "pattern": p,
         "label": "guards_against"}
        for p in PATTERNS
    ] + [
        {"text": "The steering group meets on Tuesdays.", "pattern": None, "label": "neutral"},
        {"text": "Appendix B lists the offices.", "pattern": None, "label": "neutral"},
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.yaml").write_text(yaml.safe_dump({"items": items}), encoding="utf-8")
    return folder


def test_the_shipped_training_data_covers_every_pattern_both_ways() -> None:
    examples = C.load_examples(TRAINING, list(PATTERNS))
    counts = Counter((e.pattern, e.label) for e in examples)
    for pattern in PATTERNS:
        assert counts[(pattern, "shows_flaw")] >= 40, pattern
        assert counts[(pattern, "guards_against")] >= 40, pattern
    assert counts[(None, "neutral")] >= 100
    texts = [e.text.lower() for e in examples]
    assert len(texts) == len(set(texts)), "a training sentence appears twice"
    negation = [e for e in examples if e.group == "negation" and e.label != "neutral"]
    assert len(negation) >= 12 * 2 * 6  # negations on both sides of every pattern


def test_bad_training_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no plan-review training data"):
        C.load_examples(tmp_path, list(PATTERNS))
    (tmp_path / "bad.yaml").write_text(
        "items:\n  - {text: x, pattern: software_first, label: maybe}\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match=r"bad\.yaml item 0"):
        C.load_examples(tmp_path, list(PATTERNS))


def test_the_model_is_trained_once_saved_and_retrained_when_data_change(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(C, "_LOADED", {})
    data = _tiny(tmp_path / "train")
    first = C.for_data(tmp_path, data, embedder, list(PATTERNS))
    path = C.model_path(tmp_path, data, embedder)
    assert path.exists() and C.for_data(tmp_path, data, embedder, list(PATTERNS)) is first
    probs = first.predict(["software first is what this plan shows."])
    assert probs.shape == (1, len(PATTERNS), 3)
    assert np.allclose(probs.sum(axis=2), 1.0)
    monkeypatch.setattr(C, "_LOADED", {})  # as a new process would: read from the file
    again = C.for_data(tmp_path, data, embedder, list(PATTERNS))
    assert again is not first and np.array_equal(again.weights, first.weights)
    path.write_bytes(b"not a model")  # damaged: trained again, not an error
    monkeypatch.setattr(C, "_LOADED", {})
    assert C.for_data(tmp_path, data, embedder, list(PATTERNS)).predict(["x"]).shape[1] == 12
    _tiny(data, extra=" indeed")  # changed data: a new file name, so a new model
    assert C.model_path(tmp_path, data, embedder) != path


def test_a_model_saved_by_another_trainer_version_is_not_loaded(
    tmp_path: Path, embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(C, "_LOADED", {})
    data = _tiny(tmp_path / "train")
    C.for_data(tmp_path, data, embedder, list(PATTERNS))
    path = C.model_path(tmp_path, data, embedder)
    assert C.SentenceClassifier.load(path, embedder) is not None
    with np.load(path) as saved:  # the same file as an older trainer wrote it
        arrays = {k: saved[k] for k in saved.files if k != "version"}
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    assert C.SentenceClassifier.load(path, embedder) is None  # its inputs had another layout


def test_a_sentence_read_as_a_flaw_is_no_strength() -> None:
    plan = parse_plan(
        "All twelve offices move to the new CRM on 1 April; there is no pilot and no fallback."
    )
    flaw = np.array([[0.05, 0.9, 0.05]] * len(plan.sentences))
    reading = read_pattern(plan, "big_bang_rollout", flaw)
    assert reading.basis == "shown" and reading.severity == "high" and reading.evidence == [0]
    leaning = np.array([[0.25, 0.3, 0.45]] * len(plan.sentences))
    # It reads as a guard more than a flaw, but too near the flaw to be called a strength.
    assert read_pattern(plan, "big_bang_rollout", leaning).basis == "not_addressed"
    guard = np.array([[0.1, 0.05, 0.85]] * len(plan.sentences))
    assert read_pattern(plan, "big_bang_rollout", guard).basis == "addressed"


def test_an_unsure_red_flag_is_one_severity_lower() -> None:
    plan = parse_plan("Everyone moves on 1 April.")
    unsure = read_pattern(plan, "big_bang_rollout", np.array([[0.4, 0.6, 0.0]]))
    assert unsure.basis == "shown" and unsure.severity == "medium"
    assert 0.0 <= unsure.confidence <= 1.0


def test_the_classifier_heads_compete_over_one_softmax(embedder: Any) -> None:
    examples = C.load_examples(TRAINING, list(PATTERNS))
    classes = C.classes_of(examples, list(PATTERNS))
    assert classes.min() == 0 and classes.max() == 2 * len(PATTERNS)
    x = np.eye(4, 8, dtype=np.float32)
    weights, bias = np.random.default_rng(0).normal(size=(25, 8)), np.zeros(25)
    probs = C.probabilities(x, weights, bias)
    assert probs.shape == (4, 12, 3) and np.allclose(probs.sum(axis=2), 1.0)
    # Every pattern's neutral column is 1 minus that pattern's own flaw and guard.
    assert np.all(probs[:, :, 1:].sum(axis=(1, 2)) <= 1.0 + 1e-6)


def test_training_is_deterministic(tmp_path: Path, embedder: Any) -> None:
    examples = C.load_examples(_tiny(tmp_path / "train"), list(PATTERNS))
    first = C.SentenceClassifier.train(embedder, examples, list(PATTERNS))
    second = C.SentenceClassifier.train(embedder, examples, list(PATTERNS))
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.bias, second.bias)
    assert first.lexicon.vocabulary == second.lexicon.vocabulary


def test_negations_are_marked_up_to_the_next_punctuation() -> None:
    assert C.mark_negation("We will NOT switch everyone, but we pilot.") == (
        "we will not not_switch not_everyone but we pilot"
    )
    assert C.mark_negation("There's no pilot") == "there's no not_pilot"


def test_each_author_is_read_by_a_model_that_never_saw_it(tmp_path: Path, embedder: Any) -> None:
    """Leave one author out: plan-level counts per whole-plan file, none for loose lines.

    The two authors label the same line in opposite ways, so each is read by what the
    other taught: a model that had also seen the held-back author would be torn instead.
    """
    from advisor.review.validation import leave_one_author_out

    folder = _tiny(tmp_path / "data")
    line = "Every office switches over to the new CRM on the same Monday."
    for author, label, plans in (("a", "shows_flaw", 2), ("b", "guards_against", 3)):
        items = [
            {"text": f"{line} ({author}{n})", "pattern": "big_bang_rollout", "label": label,
             "plan": f"{author}-{n}"}
            for n in range(plans)
        ]  # fmt: skip
        (folder / f"{author}.yaml").write_text(yaml.safe_dump({"items": items}), "utf-8")
    counts = leave_one_author_out(folder, embedder, list(PATTERNS), floor=0.3)
    assert set(counts) == {"a.yaml", "b.yaml"}  # tiny.yaml has no plans: never held back
    assert counts["a.yaml"] == {"plans": 2, "found": 0, "false": 0, "missed": 2}
    assert counts["b.yaml"] == {"plans": 3, "found": 0, "false": 3, "missed": 0}
