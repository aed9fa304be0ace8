"""Quotable sentences of a corpus passage: what answers and plan reviews may quote.

Every sentence the advisor shows as a source's words is one of these units, a verbatim
span of its passage. A sentence that leans on the one before it ("This is another clue")
is offered together with that sentence, never alone at full weight.
"""

from __future__ import annotations

import re
from typing import Any

from advisor.text import split_sentences

# Sentences opening with these lean on the sentence before them for meaning.
_DANGLING = re.compile(
    r"^(this|that|these|those|it|its|they|their|such|he|she|his|her|the same|but|so|however|"
    r"then|also|and|or|as a result|in addition|for this reason)\b",
    re.I,
)
# "... is another clue." counts on a list of clues that came before it.
_ANOTHER = re.compile(r"(?i)\b(is|are) (another|a further|one more) (clue|sign|signal|example)\b")
_QUOTES = '"“”'
# A bracketed number in a quote would read as a citation marker that names no citation.
_MARKER_LIKE = re.compile(r"\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")


def passage_units(text: str) -> list[tuple[str, int, bool, bool]]:
    """(text, position, dangling, pair) for each quotable sentence of a passage.

    A sentence that leans on the one before it also comes as a pair with that sentence
    (position is then the first sentence's); both are verbatim spans of the passage. One
    that leans back only by an opening connective ("But …") comes alone without it
    (``standalone``), as a full-weight unit.
    """
    units: list[tuple[str, int, bool, bool]] = []
    sentences = split_sentences(text)
    for pos, sent in enumerate(sentences):
        if not quotable(sent):
            continue
        prev = sentences[pos - 1] if pos > 0 else ""
        dangling = leans_back(sent)
        # A short lead-in ("Goals are too broad.") names what the next sentence explains.
        lead_in = bool(prev) and len(prev.split()) < 6 and prev.endswith(".")
        if prev and ((dangling and quotable(prev)) or lead_in):
            units.append((f"{prev} {sent}", pos - 1, False, True))
        rest = standalone(sent) if dangling else None
        units.append((rest, pos, False, False) if rest else (sent, pos, dangling, False))
    return [u for u in units if u[0] in text and not _MARKER_LIKE.search(u[0])]


def leans_back(sentence: str) -> bool:
    """True when a sentence leans on the one before it ("This…", "And…") for its meaning."""
    return bool(_DANGLING.match(sentence.lstrip('•-– "“')) or _ANOTHER.search(sentence))


# An opening connective that only links to the sentence before; the rest may stand alone
# ("But CRM is not and never was purely about technology, says …").
_CONNECTIVE = re.compile(r"^(but|and|so|yet|however|then)\b,?\s+", re.I)


def standalone(sentence: str) -> str | None:
    """The sentence, or its verbatim rest after an opening connective, when that stands on
    its own ("However, Gartner analyst Beth Eisenfeld said …" gives "Gartner analyst …");
    None when it leans on the sentence before ("But their association …")."""
    if not leans_back(sentence):
        return sentence
    opened = _CONNECTIVE.match(sentence)
    rest = sentence[opened.end() :] if opened else ""
    return rest if rest and not leans_back(rest) and len(rest.split()) >= 6 else None


def quotable(sentence: str) -> bool:
    words = sentence.split()
    if len(words) < 6 or sentence.rstrip().endswith(("?", ":")):
        return False
    if sentence.startswith("(") and sentence.rstrip().endswith(")"):
        return False
    return sentence.rstrip(_QUOTES + "’ )").endswith((".", "!"))


def display(text: str) -> str:
    """A sentence for display: no bullet, and no quote mark left without its partner."""
    text = text.lstrip("•-– ").strip()
    if text.count('"') % 2 == 1:
        if text.startswith('"'):
            text = text[1:]
        elif text.endswith('"'):
            text = text[:-1]
    if text.count("“") > text.count("”") and text.startswith("“"):
        text = text[1:]
    if text.count("”") > text.count("“") and text.endswith("”"):
        text = text[:-1]
    return text.strip()


def curated(passages: list[Any]) -> list[str]:
    """The texts whose sentences the warm-up embeds: notes, answer entries and the articles
    they cite (``passages`` are ``IndexedPassage``s). Other documents (added ones, a corpus
    of thousands) have theirs stored at ingest or embedded when first retrieved, so the
    warm-up does not grow with the corpus."""
    cited = {s for p in passages for s in str(p.meta.get("sources", "")).split(",") if s}
    return [p.text for p in passages if p.meta.get("kind") != "article" or p.doc_id in cited]
