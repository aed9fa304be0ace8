"""Reading a pasted CRM plan: its sentences, their headings, and the cues each one carries.

Every sentence, bullet, table row and ``Label: value`` line becomes one ``PlanSentence``,
with its nearest short heading as context ("Rollout: all stores on 1 May"), so that the
classifier reads each one on its own and nothing is cut at the model's token window; a line
that packs several statements also keeps its ``clauses``, read as well. A cue
is a family of phrasings for one idea (``advisor.review.cues``), kept for the plan-level
checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from advisor.review.cues import CUES
from advisor.text import split_sentences

_COMPILED = {name: re.compile(rx, re.I) for name, rx in CUES.items()}
_LABEL = re.compile(r"^(?P<k>[A-Za-z][A-Za-z /&()-]{1,40}):\s+(?P<v>\S.*)$")
_BULLET = re.compile(r"^\s*(?:[-*•–·]|\d{1,2}(?:\.\d{1,2})*[.)]?|[a-z][.)]|\(\w{1,3}\))\s+")
# A chat turn ("[09:02] Sam: ...", "09:02 Sam: ...") starts a new item, as a bullet does.
_TURN = re.compile(r"^\s*[\[(]?\d{1,2}:\d{2}")
_NUMBERED = re.compile(r"^\s*\d{1,2}(?:\.\d{1,2})*[.)]?\s+")


@dataclass
class PlanSentence:
    """One sentence or bullet of the plan, with its heading and the cues it carries."""

    index: int
    text: str
    section: str = ""
    cues: frozenset[str] = field(default_factory=frozenset)
    context: str = ""  # the text with its short heading ("Rollout: all stores on 1 May")
    clauses: tuple[str, ...] = ()  # its clauses, when it packs several (``clauses_of``)

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
    return frozenset(name for name, rx in _COMPILED.items() if rx.search(text))


def parse_plan(text: str) -> Plan:
    """Split a plan into sentences and bullets, each with its nearest heading and its cues.

    Hard-wrapped lines are joined back into their paragraph or bullet first, since pasted
    emails and documents wrap mid-sentence.
    """
    items: list[tuple[str, str]] = []  # (text, section)
    section, joinable = "", False
    lines = text.split("\n")
    separate = _one_item_per_line(lines)
    for n, raw in enumerate(lines):
        line = _BULLET.sub("", raw.strip()).strip()
        joinable = joinable and n not in separate
        if not line:
            joinable = False
        elif _heading(raw, line, lines[n + 1 : n + 2]):
            section, joinable = line.strip("#: ").strip(), False
        elif (
            joinable
            and not _BULLET.match(raw)
            and not _TURN.match(raw)
            and not _LABEL.match(line)
            and not _title_line(items[-1][0])
            and not _document_title(lines, n)
        ):
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
            prefix = context[: len(context) - len(part)]
            clauses = tuple(prefix + c for c in clauses_of(part))
            sentences.append(
                PlanSentence(len(sentences), part, item_section, cues_of(context), context, clauses)
            )
    return Plan(text, sentences)


# A semicolon or a spaced dash packs two statements into one line ("Vision: the most
# customer-centric bank in the region - KPIs to be agreed later"). Commas do not: split
# there, "we looked at copying X, but built our own" loses the "but".
_PACKED = re.compile(r"\s*(?:;|\s[-–—]\s)\s*")


def clauses_of(text: str) -> list[str]:
    """The clauses of a sentence that packs several, each of at least three words; [] when
    it holds one."""
    parts = [p.strip(" ,;") for p in _PACKED.split(text)]
    parts = [p for p in parts if len(p.split()) >= 3]
    return parts if len(parts) > 1 else []


_WRAPS = re.compile(r"(?i)(,|-|\b(and|or|but|the|a|an|of|to|in|on|by|for|with|from|at|as))$")


def _one_item_per_line(lines: list[str]) -> set[int]:
    """Indices of lines that stand alone: table rows, and blocks that are not wrapped prose.

    A block of three or more lines none of which ends a sentence or breaks mid-phrase
    ("... by", "... and") is a list, a chat thread or a set of notes, one item per line.
    """
    alone: set[int] = set()
    block: list[int] = []
    for n, raw in enumerate([*lines, ""]):
        if raw.strip():
            block.append(n)
            continue
        ends = [lines[i].rstrip() for i in block]
        if len(block) >= 3 and not any(re.search(r"[.!?]$", e) or _WRAPS.search(e) for e in ends):
            alone.update(block)
        block = []
    return alone | {n for n, raw in enumerate(lines) if " | " in raw}


def _title_line(text: str) -> bool:
    """A short Title Case line such as "Project Phoenix: CRM Transformation": a title that
    stands alone, never the start of a sentence wrapped onto the next line."""
    words = text.replace(":", " ").split()
    if not 2 <= len(words) <= 8 or re.search(r"[.!?,;]$", text) or _WRAPS.search(text):
        return False
    small = {"and", "of", "the", "for", "to", "in", "on", "a", "&", "/", "-", "–"}
    return all(w[0].isupper() or w.lower() in small or not w[0].isalpha() for w in words)


# Words of a clause, not a title: "We will move the sales team onto the new CRM" wraps.
_CLAUSE = re.compile(r"(?i)\b(we|our|will|is|are|was|were|shall|must|should|can|has|have)\b")


def _document_title(lines: list[str], n: int) -> bool:
    """Line ``n`` follows the document's first line, and that line is a title: it has no
    sentence stop and the next line starts a sentence ("Project Atlas, prepared by Dr. Jones
    for the board" over "All regions switch on 1 January.")."""
    first = next((i for i, raw in enumerate(lines) if raw.strip()), -1)
    if n != first + 1 or first < 0:
        return False
    title = lines[first].rstrip()
    if re.search(r"[.!?,;:]$", title) or _WRAPS.search(title) or _CLAUSE.search(title):
        return False
    return lines[n].lstrip()[:1].isupper()


def _heading(raw: str, line: str, after: list[str]) -> bool:
    """A heading line; a short numbered line is one only when body text follows it.

    "2. Ownership and team" over a paragraph is a heading; "3. Pilot in Leeds" followed by
    "4. ..." is a step of a numbered list.
    """
    if not _NUMBERED.match(raw):
        return _is_heading(raw, line)
    following = after[0] if after else ""
    if not following.strip() or _BULLET.match(following):
        return False
    return _is_heading(raw, line) or (len(line.split()) <= 6 and not re.search(r"[.!?:;,]$", line))


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
