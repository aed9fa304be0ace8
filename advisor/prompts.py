"""Prompts are data: templates in ``prompts/``, rendered here and nowhere else.

Templates use ``${name}`` placeholders. Rendering fails loudly on a missing or unknown
variable, so a renamed placeholder can never send a model a prompt with a hole in it.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

from advisor.errors import PromptError

NAMES = ("system", "answer", "condense", "review")
"""Every prompt the advisor uses."""


@lru_cache(maxsize=32)
def _template(path: Path) -> string.Template:
    try:
        return string.Template(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PromptError(f"cannot read prompt {path}: {exc.strerror or exc}") from exc


class Prompts:
    """The prompt templates of one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def template(self, name: str) -> string.Template:
        """The template called ``name`` (``prompts/<name>.md``)."""
        return _template(self.folder / f"{name}.md")

    def variables(self, name: str) -> list[str]:
        """The placeholders that ``name`` needs."""
        template = self.template(name)
        if not template.is_valid():
            raise PromptError(f"prompt {name!r} has a malformed placeholder")
        return template.get_identifiers()

    def render(self, name: str, **values: object) -> str:
        """Fill every placeholder of ``name``; a missing or unexpected value is an error."""
        needed = set(self.variables(name))
        missing = sorted(needed - values.keys())
        if missing:
            raise PromptError(f"prompt {name!r} needs {', '.join(missing)}")
        unknown = sorted(values.keys() - needed)
        if unknown:
            raise PromptError(f"prompt {name!r} has no placeholder {', '.join(unknown)}")
        return self.template(name).substitute({k: str(v) for k, v in values.items()}).strip()
