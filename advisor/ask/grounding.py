"""Support checks: is a sentence backed by the passages it cites? Shared by evals and guards.

An offline stand-in for an NLI model. It combines embedding similarity to the closest
passage sentence, IDF-free lexical coverage of the sentence's content words, exact
matching of numbers and names, and a negation-polarity check, into one score in [0, 1].
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from advisor.ask.leads import VERDICT, without_verdict
from advisor.knowledge.embeddings import Embedder, VectorCache
from advisor.text import content_terms, names, numbers, split_sentences

DEFAULT_THRESHOLD = 0.6
_NEGATION = re.compile(r"(?i)\b(not|no|never|none|nothing|neither|nor|without|cannot)\b|n['’]t\b")


@dataclass(frozen=True)
class Support:
    """The verdict on one sentence against its cited passages."""

    score: float
    supported: bool
    similarity: float
    coverage: float
    missing_numbers: frozenset[str] = field(default_factory=frozenset)
    missing_names: frozenset[str] = field(default_factory=frozenset)
    negation_mismatch: bool = False


def negated(text: str) -> bool:
    """True if the text holds an odd number of negations (a cheap polarity signal).

    An opening verdict ("No: a broad vision is fine…", "Not on its own: …") answers a
    question; it does not negate what follows, so it is not counted, and the same sentence
    with its verdict cut keeps its polarity.
    """
    if VERDICT.match(text):
        text = without_verdict(text)
    return len(_NEGATION.findall(text)) % 2 == 1


class SupportChecker:
    """Scores sentences against passages; caches sentence embeddings."""

    def __init__(self, embedder: Embedder, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._cache = VectorCache.shared(embedder)

    def check(self, sentence: str, passages: list[str]) -> Support:
        """How well the passages (jointly) support the sentence."""
        if not passages or not sentence.strip():
            return Support(0.0, False, 0.0, 0.0)
        joined = "\n".join(passages)
        candidates = [s for p in passages for s in split_sentences(p)] or passages
        vecs = self._cache.vectors([sentence, *candidates])
        sims = vecs[1:] @ vecs[0]
        best = int(np.argmax(sims))
        similarity = float(sims[best])
        terms = set(content_terms(sentence))
        have = set(content_terms(joined))
        coverage = len(terms & have) / len(terms) if terms else 1.0
        missing_numbers = frozenset(numbers(sentence) - numbers(joined))
        missing_names = frozenset(n for n in names(sentence) if n.lower() not in joined.lower())
        mismatch = negated(sentence) != negated(candidates[best])
        score = 0.45 * max(similarity, 0.0) + 0.55 * coverage
        score *= 0.5 ** len(missing_numbers)
        score *= 0.7 ** len(missing_names)
        score *= 0.6 if mismatch else 1.0
        # Judge the score as reported, so that a verdict never disagrees with its own score.
        score = round(score, 4)
        return Support(
            score,
            score >= self.threshold,
            similarity,
            coverage,
            missing_numbers,
            missing_names,
            mismatch,
        )

    def supported(self, sentence: str, passages: list[str]) -> bool:
        """True if the passages support the sentence."""
        return self.check(sentence, passages).supported


# Markers have at most 9 digits: a longer run is not a citation, and int() refuses huge ones.
_CITED = re.compile(r"^\s*(?:[-•*]\s+)?(.*?)\s*((?:\[\d{1,9}\]\s*)+)$")


def cited_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """Split answer text into (sentence, cited numbers); headings are skipped."""
    out: list[tuple[str, list[int]]] = []
    # Lines are "\n"-separated, as written; splitlines() would also cut a quoted sentence at
    # \x1c-\x1e, \x85 or \u2028, which sentence splitting keeps inside a sentence.
    for line in answer.split("\n"):
        line = line.strip()
        if not line or (line.endswith(":") and "[" not in line):
            continue
        for sentence in _split_cited(line):
            m = _CITED.match(sentence)
            if m:
                out.append((m.group(1), [int(n) for n in re.findall(r"\d+", m.group(2))]))
            else:
                out.append((sentence.lstrip("-•* ").strip(), []))
    return out


def _split_cited(line: str) -> list[str]:
    # A marker closes a sentence: "A [1]. B [2]" or "A. [1] B. [2]" both split after [n].
    # Only a numbered marker: an editor's "[CRM] But ..." inside a quote closes nothing.
    parts = re.split(r"(?<=\d\])\s+(?=[A-Z\"“(])", line)
    return [p for p in parts if p.strip()]
