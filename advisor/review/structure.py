"""Plan-level checks that no single sentence shows: the order of the plan's steps.

"Phase 1: buy the licences. … Phase 3: agree what we want the CRM to achieve." Each
sentence alone is ordinary; the order is the flaw (software before strategy). A check
takes the parsed plan and the pattern's sentence probabilities, shape (sentences, 3), and
returns ``(sentence index, reason)`` pairs: the sentences that show the flaw, or nothing.
``advisor.patterns.REGISTRY`` names the checks each pattern uses.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from advisor.review.cues import STRATEGY_WORK, TOOL_CHOICE
from advisor.review.plan import Plan

GUARDS = 0.3  # a sentence reading this much as guarding counts as strategy work


def tool_before_strategy(plan: Plan, probs: np.ndarray) -> list[tuple[int, str]]:
    """The tool is bought or set up in a step before the strategy or goals are agreed."""
    sentences = plan.sentences
    strategy = [
        s.index
        for s in sentences
        if STRATEGY_WORK.search(s.text) or s.has("strategy_first") or probs[s.index, 2] >= GUARDS
    ]
    tools = [s.index for s in sentences if TOOL_CHOICE.search(s.text) or s.has("tool_chosen")]
    tools = [i for i in tools if i not in strategy]
    if not strategy or not tools or min(tools) > min(strategy):
        return []
    first_tool, first_strategy = min(tools), min(i for i in strategy if i > min(tools))
    reason = "the tool is bought or set up in an earlier step than the goals or requirements"
    return [(first_tool, reason), (first_strategy, reason)]


CHECKS: dict[str, Callable[[Plan, np.ndarray], list[tuple[int, str]]]] = {
    "tool_before_strategy": tool_before_strategy,
}
"""Every structure check by the name ``FailurePattern.structure`` uses."""
