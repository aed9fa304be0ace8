"""Which sentence leads a direct answer: one in the form the question asks for.

A figure question is led by a sentence with a figure (one that counts what the question
counts, when there is one), a who question by one naming a role, and a choice between two
named options by no yes/no verdict. Used by ``advisor.ask.compose``; the thresholds were
chosen on the development questions (``evals/questions/dev.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol, Self, TypeVar

from advisor.ask.questions import choice_options
from advisor.text import content_terms


class Scored(Protocol):
    """A candidate sentence: its text and its score against the question."""

    text: str
    score: float

    def with_text(self, text: str) -> Self: ...


S = TypeVar("S", bound=Scored)


# A sentence of the asked form leads when it scores this share of the best. Chosen on the dev
# questions: 0.85, 0.8, 0.75, 0.7 gave lead accuracy 0.783, 0.783, 0.826, 0.826.
FORM_SHARE = 0.75
# What the first sentence of a figure or a who question must hold to answer it at all.
FORMS = {
    "how_many": re.compile(
        r"(?i)\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|several|half|"
        r"third|quarter|dozen|hundreds?|thousands?|percent|majority|most|few)\b"
    ),
    "who": re.compile(
        r"\b(CEO|CIO|CFO|COO|CRMO|IT|VP)\b|(?i:\b(director|officer|executive|board|"
        r"sponsor|manager|owner|head of|department|chief|leader|steward|team|vice president)s?\b)"
    ),
}


# A verdict that answers its own entry's yes/no question, hedged or not ("Mostly no: …").
STANCE = re.compile(
    r"^\W*((mostly|largely|partly|usually|generally) )?(yes|no)\b|^\W*not (on its own|by itself|"
    r"alone|necessarily)\b",
    re.I,
)
# ... set off by punctuation, as a verdict is ("No: …", "Yes, provided …"), not "No pilot …".
VERDICT = re.compile(f"(?:{STANCE.pattern})" + r"(?=\s*[:,;—–-])", re.I)
_TITLES = re.compile(r"\b(CEO|CIO|CFO|COO|CMO|CTO|CRMO|VP|\d[\d,.]*%?)\b")


def formed(segments: list[S], scored: list[S], qtype: str, question: str) -> list[S]:
    """``segments`` led by a sentence of the form the question asks for, when one is close.

    A figure question is led by a sentence with a figure, a who question by one naming a
    role, in each case one the question does not name itself ("who gets the CRMO job?" is
    not answered by a sentence about the CRMO); a candidate from outside ``segments`` must
    score at least ``FORM_SHARE`` of the best candidate's score.
    """
    if qtype == "choice":
        return _chosen(segments, question)
    form = FORMS.get(qtype)
    if form is None or not segments:
        return segments
    asked = {m.group(0).lower() for m in form.finditer(question)}
    titled = bool(_TITLES.search(question))

    def answers(seg: S) -> bool:
        named = {m.group(0).lower() for m in form.finditer(seg.text)}
        if titled and named & asked:
            # A sentence about the titled role asked of answers only by naming another title
            # ("A CIO … can fill the CRMO role"), not a generic noun ("a CRM officer").
            titles = {m.group(0).lower() for m in _TITLES.finditer(seg.text)}
            return bool(titles - asked)
        return bool(named - asked)

    counted = _counted(question) if qtype == "how_many" else None
    if counted is not None:
        led = _led_by(segments, scored, lambda seg: _counts(seg.text, counted))
        if led is not None:
            return led
    return _led_by(segments, scored, answers) or segments


def _led_by(segments: list[S], scored: list[S], fits: Callable[[S], bool]) -> list[S] | None:
    """``segments`` led by the first of them that ``fits``, or else by the best-scored
    candidate that fits and scores ``FORM_SHARE`` of the best; None when none fits."""
    if segments and fits(segments[0]):
        return segments
    best = max((seg.score for seg in scored), default=0.0)
    pool = [seg for seg in segments if fits(seg)]
    pool += sorted(
        (seg for seg in scored if fits(seg) and seg.score >= FORM_SHARE * best),
        key=lambda x: -x.score,
    )
    if not pool:
        return None
    return [pool[0], *[seg for seg in segments if seg is not pool[0]]]


_HOW_MANY = re.compile(
    r"(?i)\bhow many\s+(?:(?:main|key|common|different|kinds?|types?|sorts?|of|the|big|major)\s+)*"
    r"([a-z][a-z-]+)"
)
_NUMBER_WORD = re.compile(
    r"(?i)^(\d+|two|three|four|five|six|seven|eight|nine|ten|twelve|several|few|couple)$"
)


def _counted(question: str) -> str | None:
    """The stemmed noun a "how many …" question counts ("how many kinds of resources" gives
    "resourc"), or None."""
    found = _HOW_MANY.search(question)
    terms = content_terms(found.group(1)) if found else []
    return terms[0] if terms else None


def _counts(text: str, noun: str) -> bool:
    """True when a number comes at most three words before the counted noun ("three
    resources", "two key reasons"; "two critical areas" does not count "reasons")."""
    words = re.findall(r"[\w'-]+", text)
    return any(
        noun in content_terms(" ".join(words[at + 1 : at + 4]))
        for at, word in enumerate(words)
        if _NUMBER_WORD.match(word)
    )


# An entry written for a choice opens with the option it chose ("Poor planning: …").
_CHOSEN = re.compile(r"^\W*([^:.]{2,40}):\s")


def offered(entry_text: str, question: str) -> bool:
    """False when an answer entry opens with an option it chose ("Poor planning: …") that the
    choice ``question`` does not offer ("bad software or bad data?"): the entry answers
    another choice, and its verdict would answer this one wrongly. True otherwise (a
    question naming no two options, an entry with no chosen option, or a shared term)."""
    options = choice_options(question)
    chosen = _CHOSEN.match(entry_text)
    if options is None or chosen is None or STANCE.match(entry_text):
        return True
    return bool(set(content_terms(chosen.group(1))) & (options[0] | options[1]))


def _chosen(segments: list[S], question: str) -> list[S]:
    """``segments``, with a verdict cut from the lead when the question offers two options.

    An answer entry written for a yes/no question opens with its verdict ("No: a CRM
    strategy has to be specific to your own business…"); asked "best practice or one built
    around our own business?", the verdict answers nothing, and what follows it answers the
    choice. The cut text is still a verbatim span of the entry.
    """
    if not segments or choice_options(question) is None:
        return segments
    return unverdicted(segments)


# A hedge closing a verdict ("in effect:", "in some cases:"): cut with it.
_HEDGE = re.compile(r"^[a-z][a-z ]{0,20}:\s+")


def unverdicted(segments: list[S]) -> list[S]:
    """``segments`` with the lead's opening verdict ("No: …", "Mostly yes, …") cut, when
    enough is left to read; the cut text is still a verbatim span of its passage."""
    if not segments:
        return segments
    first = segments[0]
    rest = without_verdict(first.text)
    if rest == first.text or len(rest.split()) < 4:
        return segments
    return [first.with_text(rest), *segments[1:]]


def without_verdict(text: str) -> str:
    """``text`` after its opening verdict and the hedge closing it ("Yes, in some cases:
    Gartner says …" → "Gartner says …"); ``text`` itself when it opens with none."""
    verdict = STANCE.match(text)
    if verdict is None:
        return text
    rest = text[verdict.end() :].lstrip(" :,;—–-")
    return _HEDGE.sub("", rest, count=1)


# An entry's verdict ("No: …") answers its own question. A question matching one of its
# phrasings less closely than this, when the entry lists no ``opposite`` ones, may ask the
# opposite ("should we even bother?" against "should failure statistics deter us?"), so
# the verdict is cut and the reason stays.
VERDICT_MIN = 0.9
# An entry that lists its ``opposite`` questions (asked the other way round) can tell the two
# apart: its verdict leads from this close, when its own phrasings beat the opposite ones by
# at least the margin (the sentence model barely sees polarity, so a near tie is no sign).
# Chosen on the 22 dev yes/no questions with a labelled stance (right / wrong verdicts;
# 0 / 0 with 0.9 alone): floors 0.6 to 0.7 gave 6 / 0 at margin 0.05, 0.75 gave 5 / 0; at
# 0.7, margins 0.03, 0.05, 0.08, 0.1 gave 6 / 1, 6 / 0, 5 / 0, 4 / 0. 0.08 because "can the
# CIO step back from CRM?" beats the opposite phrasings of "Can our CIO lead CRM?" by 0.065.
CHECKED_VERDICT_MIN = 0.7
POLARITY_MARGIN = 0.08


def verdict_holds(own: float, opposite: float | None) -> bool:
    """True when an answer entry's verdict answers the question that matched it: ``own`` is
    the cosine of its closest own phrasing, ``opposite`` of its closest ``opposite`` one
    (None when it lists none)."""
    if opposite is None:
        return own >= VERDICT_MIN
    return own >= CHECKED_VERDICT_MIN and own - opposite >= POLARITY_MARGIN
