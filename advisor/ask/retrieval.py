"""Hybrid retrieval: dense (Chroma), BM25 and question-phrasing results fused by RRF,
diversified by MMR, gated; the article evidence behind a chosen answer entry comes along."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from advisor.ask.entries import Entries
from advisor.config import Settings
from advisor.errors import RetrievalError
from advisor.inputs import strip_injection
from advisor.knowledge.embeddings import Embedder, VectorCache
from advisor.knowledge.lexical import LexicalIndex, saved_path
from advisor.knowledge.snapshot import IndexedPassage, IndexSnapshot
from advisor.text import STOPWORDS, content_terms, names, tokens

# The articles cited by the best-fused advice passage (this many of them) are ranked once
# more, with this weight, beside the dense, lexical and phrasing rankings; 0 turns it off.
# Chosen on the development questions (article hit@5 0.886 without; 0.909, 0.955 and 0.977
# at weights 0.5, 1 and 1.5; key-point coverage 0.576 -> 0.561 at 1). Following the two
# best pieces of advice instead of one fell to 0.864: the broad notes cite every article.
SOURCE_WEIGHT, SOURCE_ADVICE = 1.0, 1
# A factual look-up ("what is", "which", "how much") rather than a request for advice.
_LOOKUP = re.compile(r"(?i)^\s*(what|which|who|when|where|how much|how many)\b")
_ABOUT_US = re.compile(r"(?i)\b(we|our|us|my|i)\b")
# A lookup whose every word is in at most this many passages (or this share of them) names
# something the corpus holds, however far its vector is from every passage.
NAMED_IN, NAMED_SHARE = 5, 0.001
_LOOKUP_WORDS = frozenset({"mean", "stand", "role", "job", "person", "company", "firm"})
# Facets of CRM buying the articles never discuss: prices and the law. A question on one of
# these is told so, rather than answered with passages beside the point.
_FACETS = {
    **dict.fromkeys("price prices pricing priced cheaper cheapest expensive discount".split(),
                    "prices"),
    **dict.fromkeys("law laws legal legally legislation regulation regulations regulatory "
                    "compliance compliant lawful".split(), "legal requirements"),
}  # fmt: skip


@dataclass
class Hit:
    """A retrieved passage with its scores."""

    passage: IndexedPassage
    similarity: float  # cosine of query and passage
    fused: float  # reciprocal-rank-fusion score
    dense_rank: int | None = None
    lexical_rank: int | None = None
    question_similarity: float | None = None  # an answer entry: its best phrasing's cosine
    phrasing: str = ""  # ... and that phrasing
    opposite_similarity: float | None = None  # ... and its best ``opposite`` phrasing's
    fetched: bool = False  # brought in as the evidence of an answer entry, not searched


@dataclass
class Retrieval:
    """The outcome of one search: ranked hits, the query vector, the gate's verdict."""

    query: str
    hits: list[Hit]
    query_vector: np.ndarray
    passed_gate: bool
    best_similarity: float
    reason: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    term_weights: dict[str, float] = field(default_factory=dict)  # IDF of query terms


def _lexical(snapshot: IndexSnapshot, settings: Settings) -> tuple[LexicalIndex, set[str]]:
    """The snapshot's BM25 index and its passages' words: read from the data folder when
    an earlier process saved them for this generation, else built (seconds at 100,000
    passages) and saved."""
    ids = [p.id for p in snapshot.passages]
    recipe = Path(__file__).read_bytes()  # the terms below are made here
    path = saved_path(settings.data_dir, ids, snapshot.manifest.get("passages", {}), recipe)
    loaded = LexicalIndex.load(path)
    if loaded is not None and loaded[0].size == len(snapshot.passages):
        return loaded
    corpus_terms = [
        content_terms(
            f"{p.meta.get('title', '')} {p.meta.get('section', '')} {p.text} "
            f"{p.meta.get('questions', '')}"
        )
        for p in snapshot.passages
    ]
    index = LexicalIndex(corpus_terms)
    words = {w for p in snapshot.passages for w in tokens(p.text)}
    index.save(path, words)
    return index, words


class Similarities:
    """The query's cosine similarity to passage ``i`` (unit vectors: a dot product), worked
    out when first asked for. The whole product ``embeddings @ vector`` would read every
    passage's vector on every question (100,000 × 384 floats at scale) to use a few dozen.
    Setting an entry overrides it (a matching question phrasing's similarity)."""

    def __init__(self, embeddings: np.ndarray, vector: np.ndarray) -> None:
        self._embeddings, self._vector = embeddings, vector
        self._known: dict[int, float] = {}

    def __getitem__(self, i: int) -> float:
        got = self._known.get(i)
        if got is None:
            got = self._known[i] = float(np.dot(self._embeddings[i], self._vector))
        return got

    def __setitem__(self, i: int, value: float) -> None:
        self._known[i] = float(value)


class HybridSearcher:
    """Dense + BM25 search over one index snapshot; BM25 is built once, here."""

    def __init__(self, snapshot: IndexSnapshot, embedder: Embedder, settings: Settings) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self.settings = settings
        self.lexical_weight = settings.lexical_weight
        self.entries = Entries(snapshot.passages, embedder)
        self._bm25, self._words = _lexical(snapshot, settings)
        self._vocabulary = self._bm25.vocabulary

    def embed(self, text: str) -> np.ndarray:
        """The normalised query vector, shape (384,) for MiniLM; raises RetrievalError.

        The question's form was read from the same text a moment before (``qtypes``), so
        its vector is usually in the shared cache: one model pass per question, not two.
        """
        held = VectorCache.shared(self.embedder).held(text)
        if held is not None:
            return held
        try:
            return np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        except Exception as exc:
            raise RetrievalError(f"could not embed the query: {exc}") from exc

    def dense(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Chroma nearest neighbours as (passage index, cosine similarity)."""
        try:
            found = self.snapshot.store.similarity_search_by_vector_with_relevance_scores(
                vector.tolist(), k=min(k, len(self.snapshot.passages))
            )
        except Exception as exc:
            raise RetrievalError(f"vector search failed: {exc}") from exc
        out = []
        for doc, distance in found:
            idx = self.snapshot.position.get(doc.id or "")
            if idx is not None:
                out.append((idx, 1.0 - float(distance)))
        return out

    def lexical(self, query: str, k: int) -> list[tuple[int, float]]:
        """BM25 best matches as (passage index, score), zero scores dropped."""
        terms = content_terms(query)
        if not terms:
            return []
        scores = self._bm25.scores(terms)
        if k < len(scores):  # the k best unordered first: a full sort is O(n log n) at scale
            top = np.argpartition(-scores, k)[:k]
            order = top[np.lexsort((top, -scores[top]))]  # by score, ties by position
        else:
            order = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]

    def search(self, query: str, mode: str = "hybrid", cleaned: str | None = None) -> Retrieval:
        """Search, fuse, diversify and gate; ``mode`` is hybrid, dense or bm25.

        ``cleaned`` is the query without instruction-like phrases, when the caller has
        already computed it (``advisor.inputs.strip_injection``). Raises RetrievalError.
        """
        s = self.settings
        t0 = time.perf_counter()
        if cleaned is None:
            cleaned = strip_injection(query)[0]
        vector = self.embed(cleaned or query)
        t1 = time.perf_counter()
        dense = self.dense(vector, s.k_dense) if mode != "bm25" else []
        lexical = self.lexical(cleaned, s.k_lexical) if mode != "dense" else []
        asked = self.entries.similarity(vector) if mode != "bm25" and s.question_match else {}
        phrased = sorted(asked.items(), key=lambda kv: -kv[1][0])[:3]
        fused: dict[int, float] = {}
        for ranking, weight in ((dense, 1.0), (lexical, self.lexical_weight), (phrased, 1.0)):
            for rank, (idx, _) in enumerate(ranking):
                fused[idx] = fused.get(idx, 0.0) + weight / (s.rrf_k + rank + 1)
        sims = Similarities(self.snapshot.embeddings, vector)
        for rank, idx in enumerate(self._cited(fused, sims)):
            fused[idx] = fused.get(idx, 0.0) + SOURCE_WEIGHT / (s.rrf_k + rank + 1)
        for idx, (sim, *_) in asked.items():
            sims[idx] = max(float(sims[idx]), sim)
        dense_rank = {idx: r for r, (idx, _) in enumerate(dense)}
        lex_rank = {idx: r for r, (idx, _) in enumerate(lexical)}
        chosen = self._balance(self._mmr(list(fused), fused, s.k_final, s.mmr_lambda), fused, sims)
        hits = [
            Hit(
                self.snapshot.passages[i],
                float(sims[i]),
                fused[i],
                dense_rank.get(i),
                lex_rank.get(i),
                asked[i][0] if i in asked else None,
                asked[i][1] if i in asked else "",
                opposite_similarity=asked[i][2] if i in asked else None,
            )
            for i in chosen
        ]
        hits += self._evidence_hits(hits, chosen, sims)
        best = max((h.similarity for h in hits), default=0.0)
        passed, reason = self._gate(cleaned, best)
        t2 = time.perf_counter()
        return Retrieval(
            query=query,
            hits=hits,
            query_vector=vector,
            passed_gate=passed,
            best_similarity=best,
            reason=reason,
            timings={"embed": t1 - t0, "search": t2 - t1},
            term_weights={t: max(self._bm25.idf(t), 0.05) for t in set(content_terms(cleaned))},
        )

    def _cited(self, fused: dict[int, float], sims: Similarities) -> list[int]:
        """Article passages of the articles the best-fused advice names in its ``sources``,
        closest to the query first, as one more ranking for the fusion.

        Notes and answer entries are written in our words and match a manager's phrasing
        better than the articles do; the articles they cite are where their evidence lies.
        Like the reference-following of llama_index's ``RecursiveRetriever``, but as a
        ranking fused with the others, not a replacement.
        """
        if not SOURCE_WEIGHT or not fused:
            return []
        passages = self.snapshot.passages
        advice = [
            i for i in sorted(fused, key=lambda i: -fused[i]) if passages[i].meta.get("sources")
        ]
        cited = {
            d for i in advice[:SOURCE_ADVICE] for d in str(passages[i].meta["sources"]).split(",")
        }
        kinds, by_doc = self.snapshot.kinds, self.snapshot.by_doc
        found = [
            i
            for d in sorted(cited)
            for i in by_doc.get(d, [])
            if kinds[i] == "article" and sims[i] >= self.settings.min_sentence_relevance
        ]
        found.sort()  # passage order first, so equal similarities rank as before
        return sorted(found, key=lambda i: -float(sims[i]))[: self.settings.k_dense]

    def _evidence_hits(self, hits: list[Hit], chosen: list[int], sims: Similarities) -> list[Hit]:
        """The article passages quoted as evidence by the leading answer entry, if not in."""
        lead = next((h for h in hits[:3] if h.question_similarity is not None), None)
        if lead is None:
            return []
        extra: list[Hit] = []
        have = set(chosen)
        for idx, _ in self.entries.evidence(self.snapshot.position[lead.passage.id]):
            if idx not in have:
                have.add(idx)
                extra.append(Hit(self.snapshot.passages[idx], float(sims[idx]), 0.0, fetched=True))
        return extra

    def _mmr(self, candidates: list[int], fused: dict[int, float], k: int, lam: float) -> list[int]:
        if not candidates:
            return []
        top = max(fused.values())
        rel = {i: fused[i] / top for i in candidates}
        emb = self.snapshot.embeddings
        chosen: list[int] = []
        pool = sorted(candidates, key=lambda i: -rel[i])
        while pool and len(chosen) < k:
            if chosen:
                redundancy = emb[pool] @ emb[chosen].T
                scores = [
                    lam * rel[i] - (1 - lam) * float(redundancy[n].max())
                    for n, i in enumerate(pool)
                ]
                pick = pool[int(np.argmax(scores))]
            else:
                pick = pool[0]
            chosen.append(pick)
            pool.remove(pick)
        return chosen

    def _balance(self, chosen: list[int], fused: dict[int, float], sims: Similarities) -> list[int]:
        """Make room for up to two passages of each kind, so evidence and advice both show.

        At most two answer entries stay, the second only when it matches as closely as a
        direct answer must: the phrasings rank entries alone, and more entries would crowd
        out the passages that back them.
        """
        floor = self.settings.min_sentence_relevance
        raw = self.snapshot.kinds
        spare = sorted(
            (i for i in fused if i not in chosen and raw[i] != "answer" and sims[i] >= floor),
            key=lambda i: -fused[i],
        )
        # A second entry stays only when its phrasings match the question as closely as a
        # direct answer's must; otherwise it would crowd out the evidence.
        entries = [i for i in chosen if raw[i] == "answer"]
        extra = [i for i in entries[1:2] if sims[i] < self.settings.direct_answer_min]
        for i in extra + entries[2:]:
            if spare:
                chosen[chosen.index(i)] = spare.pop(0)
            else:
                chosen.remove(i)

        # Answer entries are advice in our own words, like the notes.
        def kind(i: int) -> str:
            return "note" if raw[i] == "answer" else raw[i]

        for wanted in ("article", "note"):
            spare = sorted(
                (i for i in fused if i not in chosen and kind(i) == wanted and sims[i] >= floor),
                key=lambda i: -fused[i],
            )
            have = sum(1 for i in chosen if kind(i) == wanted)
            while have < 2 and spare:
                others = [i for i in chosen if kind(i) != wanted]
                if len(others) <= 2:
                    break
                chosen[chosen.index(others[-1])] = spare.pop(0)
                have += 1
        return chosen

    def _gate(self, query: str, best: float) -> tuple[bool, str]:
        terms = content_terms(query)
        if not terms:
            return False, "the question has no searchable words"
        if best < self.settings.min_relevance and not self._names_known(query, terms):
            return False, f"no passage is close enough (best similarity {best:.2f})"
        known = [t for t in terms if t in self._vocabulary]
        if not known:
            return False, "none of the question's words occur in the corpus"
        unknown = self.unknown_names(query)
        if unknown and _LOOKUP.match(query) and not _ABOUT_US.search(query):
            return False, f"the sources never mention {', '.join(unknown)}"
        return True, ""

    def _names_known(self, query: str, terms: list[str]) -> bool:
        """True for a lookup of something only a few passages name ("who is Alf Saggese?",
        "what is KANA?"): its vector is close to no passage, since a name carries little
        meaning for the embedding model, but the words single out the passages about it."""
        rare = max(NAMED_IN, NAMED_SHARE * self._bm25.size)
        return (
            bool(_LOOKUP.match(query))
            and all(
                0 < round(self._bm25.frequency(t)) <= rare for t in terms if t not in _LOOKUP_WORDS
            )
            and any(t not in _LOOKUP_WORDS for t in terms)
        )

    def relevance(self, text: str) -> float:
        """The best cosine of the text, embedded as it is, to any passage; raises RetrievalError."""
        return float((self.snapshot.embeddings @ self.embed(text)).max(initial=0.0))

    def known_word(self, word: str) -> bool:
        """True for a lower-case word of the corpus or a common English function word."""
        return word in self._words or word in STOPWORDS

    def uncovered(self, text: str) -> list[str]:
        """What the text names that the sources never cover: unknown names, and facets of
        the domain the corpus never discusses (a price, a law), each as written."""
        found = self.unknown_names(text)
        for word in re.findall(r"[A-Za-z]+", text):
            if word.lower() in _FACETS:
                found.append(_FACETS[word.lower()])
        return list(dict.fromkeys(found))

    def unknown_names(self, text: str) -> list[str]:
        """Proper names in the text that the corpus never mentions (vendors, products, laws)."""
        return sorted(n for n in names(text) if n.lower() not in self._words)
