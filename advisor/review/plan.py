"""Reading a pasted CRM plan: its sentences, their headings, and the cues each one carries.

A cue is a family of phrasings for one idea (a dated target, a pilot, an owner from IT, a
budget left unfunded). Cues are only one of the review's signals; ``advisor.review.reviewer`` weighs
them with the sentences' similarity to each failure pattern's note and with the plan's
structure (what comes first, what is missing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from advisor.review.cues import CUES, IT_UNIT
from advisor.text import split_sentences

_COMPILED = {name: re.compile(rx, re.I) for name, rx in CUES.items()}
_LABEL = re.compile(r"^(?P<k>[A-Za-z][A-Za-z /&()-]{1,40}):\s+(?P<v>\S.*)$")
_BULLET = re.compile(r"^\s*(?:[-*•–·]|\d{1,2}(?:\.\d{1,2})*[.)]?|[a-z][.)]|\(\w{1,3}\))\s+")
_NUMBERED = re.compile(r"^\s*\d{1,2}(?:\.\d{1,2})*[.)]?\s+")
# A target is a figure with a direction or an end point, not any percentage (weights, splits).
_CHANGE = re.compile(
    r"(?i)\b(to|from|by|reduc\w+|increas\w+|rais\w+|cut\w*|lift\w*|grow\w*|improv\w+|reach\w*"
    r"|target\w*|at least|under|below|above|over|up|down|halve|double|fewer|more than|less than)\b"
    r"|→|->"
)


@dataclass
class PlanSentence:
    """One sentence or bullet of the plan, with its heading and the cues it carries."""

    index: int
    text: str
    section: str = ""
    cues: frozenset[str] = field(default_factory=frozenset)
    context: str = ""  # the text with its short heading ("Rollout: all stores on 1 May")

    def has(self, *names: str) -> bool:
        """True when the sentence carries any of the named cues."""
        return any(n in self.cues for n in names)


@dataclass
class Plan:
    """A parsed plan: its sentences in order."""

    text: str
    sentences: list[PlanSentence]

    def with_cue(self, *names: str) -> list[PlanSentence]:
        """The sentences that carry any of the named cues, in plan order."""
        return [s for s in self.sentences if s.has(*names)]

    def first(self, *names: str) -> int | None:
        """The index of the first sentence carrying any of the cues, or None."""
        found = self.with_cue(*names)
        return found[0].index if found else None


def cues_of(text: str) -> frozenset[str]:
    """The cue families a piece of text carries."""
    found = {name for name, rx in _COMPILED.items() if name != "owner_business" and rx.search(text)}
    if "target" in found and not _CHANGE.search(text):
        found.discard("target")
    if _COMPILED["owner_business"].search(IT_UNIT.sub(" IT ", text)):
        found.add("owner_business")
    return frozenset(found)


def parse_plan(text: str) -> Plan:
    """Split a plan into sentences and bullets, each with its nearest heading and its cues.

    Hard-wrapped lines are joined back into their paragraph or bullet first, since pasted
    emails and documents wrap mid-sentence.
    """
    items: list[tuple[str, str]] = []  # (text, section)
    section, joinable = "", False
    for raw in text.split("\n"):
        line = _BULLET.sub("", raw.strip()).strip()
        if not line:
            joinable = False
        elif _is_heading(raw, line):
            section, joinable = line.strip("#: ").strip(), False
        elif joinable and not _BULLET.match(raw) and not _LABEL.match(line):
            items[-1] = (f"{items[-1][0]} {line}", section)
        else:
            items.append((line, section))
            joinable = True
    sentences: list[PlanSentence] = []
    for item, item_section in items:
        label = _LABEL.match(item)
        for n, part in enumerate(split_sentences(item)):
            part = part.strip()
            if len(re.findall(r"[A-Za-z]{2,}", part)) < 2:
                continue
            heading = label.group("k") if label and n else item_section
            # A short heading ("Objectives", "After go-live") says what its sentences are about.
            context = f"{heading}: {part}" if heading and len(heading.split()) <= 5 else part
            sentences.append(
                PlanSentence(len(sentences), part, item_section, cues_of(context), context)
            )
    return Plan(text, sentences)


def _is_heading(raw: str, line: str) -> bool:
    """A markdown heading, a line ending in a colon, or a short Title Case line."""
    if len(line) > 80 or re.search(r"[.!?]$", line):
        return False
    if raw.lstrip().startswith("#") or (line.endswith(":") and len(line.split()) <= 8):
        return True
    words = line.split()
    numbered = bool(_NUMBERED.match(raw))  # "2. Objectives" or "3.1 Background" is a heading
    if (_BULLET.match(raw) and not numbered) or ":" in line or len(words) > 5:
        return False
    small = {"and", "of", "the", "for", "to", "in", "on", "a", "&", "/"}
    return all(w[0].isupper() or w.lower() in small or not w[0].isalpha() for w in words)
