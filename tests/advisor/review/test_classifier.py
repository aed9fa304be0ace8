"""The plan-sentence classifier: its training data, training, saving, and how detection uses it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from advisor.config import PROJECT_ROOT, Settings
from advisor.errors import ConfigError
from advisor.facade import Advisor
from advisor.knowledge.corpus import PATTERNS
from advisor.review import classifier as C
from advisor.review.detect import big_bang_rollout, decide, read_polarity
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


def test_a_sentence_read_as_a_flaw_is_no_strength() -> None:
    plan = parse_plan(
        "All twelve offices move to the new CRM on 1 April; there is no pilot and no fallback."
    )
    cues_only = decide(big_bang_rollout(plan, _no_semantics()))
    assert cues_only.basis != "shown"  # the word "pilot" reads as a safeguard to the cues
    assessment = big_bang_rollout(plan, _no_semantics())
    probs = np.array([[0.05, 0.9, 0.05]] * len(plan.sentences))
    read_polarity(assessment, plan, probs)
    decision = decide(assessment)
    assert decision.basis == "shown" and decision.severity in ("high", "medium")
    assert not any(signal.sentences for signal in assessment.good)


def _no_semantics() -> Any:
    from advisor.review.detect import Semantics

    return Semantics([], np.zeros((0, 0)), np.zeros((0, 0)))


def test_the_advisor_reviews_with_the_classifier_when_asked(
    settings: Settings, embedder: Any
) -> None:
    on = Advisor(settings.model_copy(update={"review_classifier": True}), embedder=embedder)
    review = on.review(
        "Phase 1: buy licences from the vendor our CFO prefers and have their consultants "
        "configure it for all teams. Phase 2: switch every team over. Phase 3: agree what we "
        "actually want the CRM to achieve."
    )
    assert on.reviewer.classifier is not None
    assert review.findings and review.text
