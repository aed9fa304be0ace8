"""Choosing the index home from the settings: a Chroma server, or local folders."""

from __future__ import annotations

from advisor.config import Settings
from advisor.knowledge.generations import Generations
from advisor.knowledge.local import LocalGenerations
from advisor.knowledge.server import ServerGenerations


def make_generations(settings: Settings) -> Generations:
    """The index home the settings name: ``ADVISOR_CHROMA_URL``'s server, else folders.

    Raises ConfigError for a malformed server URL (on first use of the server).
    """
    if settings.chroma_url:
        return ServerGenerations(settings)
    return LocalGenerations(settings)
