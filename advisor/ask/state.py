"""The typed state a question carries through the ask pipeline (``advisor.ask.pipeline``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from advisor.ask.compose import Composition
from advisor.ask.intents import TurnIntent
from advisor.ask.retrieval import Retrieval
from advisor.contract import Finding, Review, Turn


@dataclass
class Focus:
    """The plan-review finding a follow-up is about, and what to search for it."""

    finding: Finding
    about: str  # what the finding is: searched for "why is that a problem?"
    remedy: str = ""  # what to do instead: searched for "who should run it instead?"


@dataclass
class AskState:
    """One question on its way through the pipeline; each step fills in its part."""

    question: str  # as the manager asked it, already checked by ``advisor.inputs``
    conversation_id: str
    history: list[Turn] = field(default_factory=list)
    review: Review | None = None  # the latest plan review in the conversation, if any
    mode: str = "hybrid"  # retrieval mode: hybrid, dense or bm25
    started: float = field(default_factory=time.perf_counter)
    standalone: str = ""  # the question as searched (a follow-up rewritten)
    query: str = ""  # ``standalone`` without instruction-like phrases: computed once
    focus: Finding | None = None
    retrieval: Retrieval | None = None
    composition: Composition | None = None
    intent: TurnIntent = field(default_factory=lambda: TurnIntent("question"))
    question_type: str = ""
    uncovered: list[str] = field(default_factory=list)  # named things the sources never cover
    timings: dict[str, float] = field(default_factory=dict)  # seconds per step
    steps: list[tuple[str, float, float]] = field(default_factory=list)  # (step, start, end)

    def took(self, step: str, since: float) -> None:
        """Record that ``step`` ran from ``since`` until now (``time.perf_counter``)."""
        now = time.perf_counter()
        self.timings[step] = now - since
        self.steps.append((step, since, now))
