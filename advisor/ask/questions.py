"""Questions: validate and normalise them, and turn follow-ups into standalone queries."""

from __future__ import annotations

import re
from typing import Any

from advisor.errors import EmptyQuestionError, QuestionTooLongError
from advisor.models import Turn
from advisor.text import STOPWORDS, content_terms, printable, tokens

MAX_QUESTION_CHARS = 4000
_ANAPHOR = re.compile(
    r"(?i)\b(that|this|it|its|they|them|their|those|these|he|she|him|her|there|such|"
    r"the same|the former|the latter)\b"
)
_CONTINUATION = re.compile(r"(?i)^\s*(and|or|but|so|also|what about|how about|then|why not)\b")
_QUESTION_WORDS = frozenset("what why how who whom which when where does do is are can".split())


def clean_question(question: Any) -> str:
    """Validate and normalise a question, or raise InvalidInputError."""
    text = printable(question, "question")
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        raise EmptyQuestionError("the question is empty")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionTooLongError(
            f"the question is {len(text)} characters; the limit is {MAX_QUESTION_CHARS}"
        )
    return text


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
