"""The learned question-type reader: its training data, its errors and what it reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from advisor.ask.qtypes import QuestionTyper, load_questions, model_path
from advisor.ask.questions import QUESTION_TYPES, asked_text, asks_for_remedy
from advisor.errors import ConfigError
from advisor.facade import Advisor


def test_the_shipped_training_data_covers_every_type(advisor: Advisor) -> None:
    items = load_questions(advisor.settings.question_training_dir)
    counts = {t: sum(q.qtype == t for q in items) for t in QUESTION_TYPES}
    assert min(counts[t] for t in QUESTION_TYPES if t != "other") >= 40, counts
    assert counts["other"] >= 20, counts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("questions: [{type: nonsense, text: 'Who owns it?'}]\n", "unknown question types"),
        ("questions: [{text: 'Who owns it?'}]\n", "bad question-type training file"),
        ("questions: [{type: who, text: 'Who owns it?'}]\n", "two types or more"),
        ("questions: [unclosed\n", "bad question-type training file"),
    ],
)
def test_bad_training_data_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "q.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_questions(tmp_path)


def test_a_typer_is_made_once_per_embedder_and_folder(advisor: Advisor) -> None:
    folder, models = advisor.settings.question_training_dir, advisor.settings.models_dir
    first = QuestionTyper.shared(advisor.embedder, folder, models)
    assert QuestionTyper.shared(advisor.embedder, folder, models) is first
    assert advisor.question_typer is first


def _small_folder(folder: Path, rows: list[tuple[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "q.yaml").write_text(
        "questions:\n" + "".join(f'  - {{type: {t}, text: "{q}"}}\n' for t, q in rows),
        encoding="utf-8",
    )
    return folder


def test_a_saved_typer_reads_as_the_trained_one_and_a_changed_folder_is_a_new_file(
    advisor: Advisor, tmp_path: Path
) -> None:
    rows = [(t, q) for t, q in _ROWS] + [("why", "Why do CRM projects fail?")]
    folder, models = _small_folder(tmp_path / "train", rows), tmp_path / "models"
    trained = QuestionTyper.train(advisor.embedder, load_questions(folder))
    path = model_path(models, folder, advisor.embedder)
    trained.save(path)
    loaded = QuestionTyper.load(path, advisor.embedder)
    assert loaded is not None and loaded.labels == ["how_many", "who", "why"]
    asked = ["Who owns the customer record?", "How many fields?", "why did it fail", "hm"]
    assert loaded.classify_many(asked) == trained.classify_many(asked)
    assert np.allclose(loaded.weights, trained.weights) and loaded.texts == trained.texts
    _small_folder(folder, [*rows, ("why", "Why do reps avoid the CRM?")])
    assert model_path(models, folder, advisor.embedder) != path
    # Weights that do not fit the columns (a file made by other code) are not loaded.
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    with path.open("wb") as fh:
        np.savez(fh, **{**arrays, "weights": arrays["weights"][:, :-5]})
    assert QuestionTyper.load(path, advisor.embedder) is None


def test_a_damaged_saved_typer_is_trained_again(
    advisor: Advisor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder, models = _small_folder(tmp_path / "train", _ROWS), tmp_path / "models"
    path = model_path(models, folder, advisor.embedder)
    models.mkdir()
    path.write_bytes(b"not an npz file")
    typer = QuestionTyper.shared(advisor.embedder, folder, models)
    assert "ignoring the question-type reader" in caplog.text
    assert typer.classify("Who signs off the budget?") == "who"
    again = QuestionTyper.load(path, advisor.embedder)  # the retrained reader replaced it
    assert again is not None and again.labels == typer.labels


_ROWS = [
    ("who", "Who should own the CRM?"),
    ("who", "which team runs data quality"),
    ("who", "Who signs off the budget?"),
    ("how_many", "How many users will we have?"),
    ("how_many", "what share of projects fail"),
    ("how_many", "How long should the pilot run?"),
]


def test_a_small_folder_trains_a_typer_that_reads_its_own_forms(
    advisor: Advisor, tmp_path: Path
) -> None:
    folder = _small_folder(tmp_path, _ROWS)  # two types: scikit-learn's binary head
    typer = QuestionTyper.shared(advisor.embedder, folder, tmp_path / "models")
    assert typer.classify_many(["Who owns the customer record?", "How many fields?"]) == [
        "who",
        "how_many",
    ]
    assert typer.classify_many([]) == []


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        # Forms the hand-written rules miss: an opening that points at another form.
        ("Can you tell me why reps keep their own spreadsheets?", "why"),
        ("Is there a way to get the sales team to log their calls?", "how_to"),
        ("What are the odds a CRM project comes in on budget?", "how_many"),
        ("Should the CFO or the COO sponsor the project?", "choice"),
        ("pls list the warning signs that a rollout is in trouble", "list"),
    ],
)
def test_the_typer_reads_the_form_not_the_opening_word(
    advisor: Advisor, question: str, qtype: str
) -> None:
    assert advisor.question_typer.classify(question) == qtype


def test_a_condensed_follow_up_is_read_by_its_own_asking_sentence() -> None:
    condensed = "and who signs that off? (following on from: What is a CRMO?)"
    assert asked_text(condensed) == "who signs that off?"


@pytest.mark.parametrize(
    ("question", "qtype", "wants_remedy"),
    [
        ("who should run it instead?", "who", True),
        ("how should we phase it?", "how_to", True),
        ("what should we measure instead?", "list", True),
        ("so what do we do about it?", "other", True),
        ("why is that a problem?", "why", False),
        ("what does that mean?", "definition", False),
    ],
)
def test_a_follow_up_on_a_finding_asks_for_the_remedy_or_the_finding(
    question: str, qtype: str, wants_remedy: bool
) -> None:
    assert asks_for_remedy(question, qtype) is wants_remedy
