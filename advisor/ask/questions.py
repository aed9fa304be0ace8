"""Follow-ups: tell them apart, and turn them into standalone queries."""

from __future__ import annotations

import re

from advisor.contract import Turn
from advisor.text import STOPWORDS, content_terms, tokens

_ANAPHOR = re.compile(
    r"(?i)\b(that|this|it|its|they|them|their|those|these|he|she|him|her|there|such|"
    r"the same|the former|the latter)\b"
)
_CONTINUATION = re.compile(r"(?i)^\s*(and|or|but|so|also|what about|how about|then|why not)\b")
_QUESTION_WORDS = frozenset("what why how who whom which when where does do is are can".split())


def is_follow_up(question: str) -> bool:
    """True when a question leans on earlier turns (pronouns, 'what about', few words)."""
    return bool(
        _ANAPHOR.search(question)
        or _CONTINUATION.match(question)
        or len(content_terms(question)) <= 2
    )


def condense(question: str, history: list[Turn]) -> str:
    """Rewrite a follow-up into a standalone query using the previous turn's topic."""
    if not history or not is_follow_up(question):
        return question
    previous = history[-1].standalone_question or history[-1].question
    mine = set(content_terms(question))
    topic: list[str] = []
    for word in tokens(previous):
        if word in STOPWORDS or word in _QUESTION_WORDS or len(word) < 2:
            continue
        if content_terms(word) and content_terms(word)[0] in mine:
            continue
        if word not in topic:
            topic.append(word)
    if not topic:
        return question
    # Keep the user's casing of the topic words (CRMO, CIO) as they were written.
    cased = {w.lower(): w for w in re.findall(r"[A-Za-z0-9'’]+", previous)}
    return f"{question} (about: {' '.join(cased.get(w, w) for w in topic[:10])})"
