"""The direct-answer entries' extra keys: their question phrasings, and the article evidence.

An answer entry (``corpus/answers/``) lists the questions it answers in several phrasings;
retrieval matches a manager's question against those phrasings as well as against the
passages, because question-to-question similarity is where a sentence-embedding model is
strongest (the multi-vector "hypothetical questions" idea of LlamaIndex's
``QuestionsAnsweredExtractor`` and LangChain's ``MultiVectorRetriever``, written by hand here).
Notes and answers also name their ``sources``; an answer's ``evidence`` quotes them word for
word, so the article passage behind each piece of advice can be fetched and cited.
"""

from __future__ import annotations

import numpy as np

from advisor.knowledge.embeddings import Embedder, VectorCache
from advisor.knowledge.snapshot import IndexedPassage
from advisor.text import squash


class Entries:
    """Phrasing vectors and evidence links over one snapshot's passages (built once)."""

    def __init__(self, passages: list[IndexedPassage], embedder: Embedder) -> None:
        self.passages = passages
        self.questions: list[str] = []
        self.owner: list[int] = []  # passage index of each phrasing's answer entry
        self.opposite: list[bool] = []  # each phrasing: asked the other way round?
        for idx, p in enumerate(passages):
            if p.meta.get("kind") == "answer":
                own = [str(p.meta.get("title", "")), *str(p.meta.get("questions", "")).split("\n")]
                turned = str(p.meta.get("opposite", "")).split("\n")
                for q, opposite in [*((q, False) for q in own), *((q, True) for q in turned)]:
                    if q.strip():
                        self.questions.append(q.strip())
                        self.owner.append(idx)
                        self.opposite.append(opposite)
        self._embedder = embedder
        self._matrix: np.ndarray | None = None
        self._by_doc: dict[str, list[int]] = {}
        for idx, p in enumerate(passages):
            self._by_doc.setdefault(p.doc_id, []).append(idx)

    @property
    def matrix(self) -> np.ndarray:
        """One normalised row per phrasing (embedded on first use, then cached)."""
        if self._matrix is None:
            if self.questions:
                self._matrix = VectorCache.shared(self._embedder).vectors(self.questions)
            else:
                self._matrix = np.zeros((0, 1), dtype=np.float32)
        return self._matrix

    def similarity(self, vector: np.ndarray) -> dict[int, tuple[float, str, float | None]]:
        """Per answer passage: the best phrasing's cosine to the query vector, the phrasing,
        and the best ``opposite`` phrasing's cosine (None when the entry lists none).

        Opposite phrasings only tell the question's polarity; they never bring an entry in.
        Many are claims the entry rebuts ("Could a lack of clear goals on our side explain
        why the CRM isn't delivering?", under "Is the vendor to blame?"), and as retrieval
        keys they drew such entries into the lead of questions they do not answer.
        """
        if not self.questions:
            return {}
        sims = self.matrix @ vector
        best: dict[int, tuple[float, str, float | None]] = {}
        turned: dict[int, float] = {}
        for row, idx in enumerate(self.owner):
            sim = float(sims[row])
            if self.opposite[row]:
                turned[idx] = max(turned.get(idx, -1.0), sim)
                continue
            if idx not in best or sim > best[idx][0]:
                best[idx] = (sim, self.questions[row], None)
        return {idx: (sim, q, turned.get(idx)) for idx, (sim, q, _) in best.items()}

    def evidence(self, idx: int) -> list[tuple[int, str]]:
        """(article passage index, quoted sentence) for each evidence line of an answer entry."""
        out: list[tuple[int, str]] = []
        sources = self.sources(idx)
        for quote in str(self.passages[idx].meta.get("evidence", "")).split("\n"):
            quote = quote.strip()
            for j in sources:
                text = self.passages[j].text
                if quote and quote in squash(text):
                    out.append((j, verbatim_span(text, quote)))
                    break
        return out

    def sources(self, idx: int) -> list[int]:
        """Indexes of the article passages of a note's or an answer's ``sources``."""
        names = [s for s in str(self.passages[idx].meta.get("sources", "")).split(",") if s]
        return [j for name in names for j in self._by_doc.get(name, [])]


def verbatim_span(text: str, squashed: str) -> str:
    """The span of ``text`` that reads as ``squashed`` once whitespace is folded."""
    words = squashed.split()
    if squashed in text:
        return squashed
    # The passage wraps the sentence over lines: find the span word by word.
    start = text.find(words[0])
    while start != -1:
        pos, ok = start, True
        for w in words:
            nxt = text.find(w, pos)
            if nxt == -1 or text[pos:nxt].strip():
                ok = False
                break
            pos = nxt + len(w)
        if ok:
            return text[start:pos]
        start = text.find(words[0], start + 1)
    return squashed
