"""The grounding guard: every sentence an LLM writes must be backed by the passages it cites.

The checks are ``advisor.grounding``'s, the same ones the evals score answers with. Sentences
are cut from the model's stream as they complete, so a guarded answer can still stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from advisor.ask.grounding import SupportChecker
from advisor.contract import GuardReport

# At most 9 digits: a longer run is no citation, and int() refuses very long ones.
_MARKER = re.compile(r"\[\s*(\d{1,9}(?:\s*[,;]\s*\d{1,9})*)\s*\]")
# A sentence is complete once its terminator, any [n] markers after it, and the start of the
# next sentence have arrived; a newline always ends one.
_BOUNDARY = re.compile(r"[.!?][\"'”’)]*(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])*(?=\s+[^\s\[])|\n+")
_DECLINE = re.compile(r"(?i)\bnot\s+in\s+(the\s+)?sources\b")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)]|#+)\s+")
FLAG = "(unverified) "


@dataclass(frozen=True)
class Checked:
    """One sentence the model wrote, with its citations and the guard's verdict."""

    text: str
    cited: list[int]
    dropped: list[int]
    score: float
    supported: bool

    def display(self) -> str:
        """The sentence as shown: text, then its valid markers."""
        return self.text + (" " + "".join(f"[{n}]" for n in self.cited) if self.cited else "")


class SentenceSplitter:
    """Cuts a stream of text pieces into whole sentences as they complete."""

    def __init__(self) -> None:
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        """Add a piece; return the sentences it completed."""
        self._buffer += piece
        out: list[str] = []
        while (m := _BOUNDARY.search(self._buffer)) is not None:
            out.append(self._buffer[: m.end()])
            self._buffer = self._buffer[m.end() :]
        return [s for s in (_tidy(x) for x in out) if s]

    def flush(self) -> list[str]:
        """Whatever is left once the stream has ended."""
        rest, self._buffer = _tidy(self._buffer), ""
        return [rest] if rest else []


def _tidy(sentence: str) -> str:
    return _BULLET.sub("", sentence.strip().replace("**", "")).strip()


def declined(text: str) -> bool:
    """True when the model said the passages do not answer the question."""
    return bool(_DECLINE.search(text)) and len(text.split()) <= 12


def is_filler(sentence: str) -> bool:
    """Headings and lead-ins ("Here is what the passages say:") that carry no claim."""
    bare = _MARKER.sub("", sentence).strip()
    return not re.search(r"[A-Za-z]", bare) or (bare.endswith(":") and len(bare.split()) <= 8)


@dataclass
class Guard:
    """Checks sentences against their cited passages and decides what the user sees."""

    checker: SupportChecker
    mode: str = "remove"
    min_supported: float = 0.5
    checked: list[Checked] = field(default_factory=list)

    def fresh(self) -> Guard:
        """A guard with the same settings and no sentences checked yet."""
        return Guard(self.checker, self.mode, self.min_supported)

    def check(self, sentence: str, passages: dict[int, str]) -> Checked:
        """Split off the sentence's [n] markers and check it against those passages."""
        numbers = [int(n) for group in _MARKER.findall(sentence) for n in re.split(r"[,;]", group)]
        text = re.sub(r"\s+([.,;:!?])", r"\1", _MARKER.sub("", sentence))
        text = re.sub(r"\s{2,}", " ", text).strip()
        cited = list(dict.fromkeys(n for n in numbers if n in passages))
        dropped = list(dict.fromkeys(n for n in numbers if n not in passages))
        if self.mode == "off":
            checked = Checked(text, list(dict.fromkeys(numbers)), [], 0.0, True)
        elif not cited:
            checked = Checked(text, [], dropped, 0.0, False)
        else:
            support = self.checker.check(text, [passages[n] for n in cited])
            checked = Checked(text, cited, dropped, support.score, support.supported)
        self.checked.append(checked)
        return checked

    def show(self, checked: Checked) -> str | None:
        """What the user sees of a checked sentence: itself, flagged, or nothing."""
        if checked.supported:
            return checked.display()
        return FLAG + checked.display() if self.mode == "flag" else None

    def report(self) -> GuardReport:
        """The guard's report on every sentence checked so far."""
        supported = sum(c.supported for c in self.checked)
        unsupported = len(self.checked) - supported
        dropped = sorted({n for c in self.checked for n in c.dropped})
        removed = unsupported if self.mode == "remove" else 0
        flagged = unsupported if self.mode == "flag" else 0
        return GuardReport(
            mode=self.mode,
            stepped_in=bool(removed or flagged or dropped),
            sentences=len(self.checked),
            supported=supported,
            removed=removed,
            flagged=flagged,
            dropped_citations=dropped,
        )

    def too_little(self) -> str:
        """Why the answer must fall back to the extractive one, or "" if enough survived."""
        if not self.checked:
            return "the model wrote no answer"
        if self.mode == "off":
            return ""
        supported = sum(c.supported for c in self.checked)
        total = len(self.checked)
        if supported == 0:
            return f"none of the {total} sentences the model wrote is supported by its sources"
        if supported < self.min_supported * total:
            return f"only {supported} of {total} sentences the model wrote are supported"
        return ""
