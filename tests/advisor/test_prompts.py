"""Prompts are data: every shipped prompt renders, and a hole in one is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.config import Settings
from advisor.errors import PromptError
from advisor.prompts import NAMES, Prompts


@pytest.mark.parametrize("name", NAMES)
def test_every_shipped_prompt_renders_with_its_variables(name: str) -> None:
    prompts = Prompts(Settings().prompts_dir)
    variables = prompts.variables(name)
    assert variables, f"{name} takes no variables"
    text = prompts.render(name, **{v: f"<<{v}>>" for v in variables})
    assert "$" not in text
    for v in variables:
        assert f"<<{v}>>" in text


def test_a_missing_variable_fails_loudly() -> None:
    prompts = Prompts(Settings().prompts_dir)
    with pytest.raises(PromptError, match="needs question"):
        prompts.render("answer", passages="p", max_sentences=3)


def test_an_unknown_variable_fails_loudly() -> None:
    prompts = Prompts(Settings().prompts_dir)
    with pytest.raises(PromptError, match="no placeholder colour"):
        prompts.render("system", max_sentences=3, colour="red")


def test_a_missing_prompt_file_and_a_malformed_placeholder_are_errors(tmp_path: Path) -> None:
    (tmp_path / "broken.md").write_text("Costs $ 5 and ${ok}", encoding="utf-8")
    prompts = Prompts(tmp_path)
    with pytest.raises(PromptError, match="cannot read prompt"):
        prompts.render("absent")
    with pytest.raises(PromptError, match="malformed placeholder"):
        prompts.render("broken", ok="x")


def test_values_are_inserted_as_text_never_as_templates() -> None:
    prompts = Prompts(Settings().prompts_dir)
    text = prompts.render("answer", passages="${question}", question="Q?", max_sentences=2)
    assert "${question}" in text
