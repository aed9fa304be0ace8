"""Perturbations of supported sentences, to measure how well the support check separates."""

from __future__ import annotations

import re

from advisor import names, negated, numbers

_AUX = re.compile(
    r"\b(is|are|was|were|can|will|should|must|does|do|did|has|have|had|could|would|may)\b"
)
_NUM = re.compile(r"(?<![\w.])(\d+)(?:\.\d+)?")


def swap_number(sentence: str) -> str | None:
    """Change the first number in the sentence (40 → 47), or None if it has none."""
    if not numbers(sentence):
        return None
    m = _NUM.search(sentence)
    if not m:
        return None
    value = int(m.group(1))
    new = str(value + 7 if value < 1900 else value + 3)
    return sentence[: m.start(1)] + new + sentence[m.end(1) :]


def negate(sentence: str) -> str | None:
    """Flip the polarity at the first auxiliary verb ('is' → 'is not', 'not' removed)."""
    if negated(sentence):
        flipped = re.sub(r"\b(not|never)\s+", "", sentence, count=1)
        return flipped if flipped != sentence else None
    m = _AUX.search(sentence)
    if not m:
        return f"It is not true that {sentence[0].lower()}{sentence[1:]}"
    return sentence[: m.end()] + " not" + sentence[m.end() :]


def swap_entity(sentence: str, pool: list[str]) -> str | None:
    """Replace one proper name with another name from the corpus, or None if none fits."""
    found = sorted(names(sentence))
    for name in found:
        for other in pool:
            if other != name and other.lower() not in sentence.lower():
                return re.sub(rf"\b{re.escape(name)}\b", other, sentence, count=1)
    return None
