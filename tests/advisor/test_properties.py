"""Properties of the extractive composer and the support check, over generated input.

Passages mix the shipped corpus with generated prose and arbitrary text; every check runs
against the real embedding model. Example counts are kept low because each example embeds
new sentences; the whole file is meant to run in under a minute on two cores.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import hypothesis
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import strategies as st

from advisor.ask.answers import extractive_answer
from advisor.ask.compose import ExtractiveComposer, render
from advisor.ask.grounding import SupportChecker, cited_sentences
from advisor.ask.retrieval import Hit, Retrieval
from advisor.ask.state import AskState
from advisor.config import PROJECT_ROOT, Settings
from advisor.contract import (
    ADVICE_HEADING,
    DIRECT_HEADING,
    EVIDENCE_HEADING,
    GREETING_REPLY,
    INSTRUCTION_REFUSAL,
    NOISE_REPLY,
    REFUSAL,
    SMALLTALK_REPLY,
)
from advisor.errors import InvalidInputError
from advisor.facade import Advisor
from advisor.inputs import strip_injection
from advisor.knowledge.corpus import load_corpus, split_document
from advisor.knowledge.embeddings import Embedder
from advisor.knowledge.snapshot import IndexedPassage
from advisor.text import content_terms, split_sentences

FRAMING = ("", DIRECT_HEADING, EVIDENCE_HEADING, ADVICE_HEADING)
BULLET = re.compile(r"- (.+) \[(\d+)\]")
MARKER = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
# Words that steer the composer's rules: CRM vocabulary, dangling openers, negations,
# names, numbers, markup, brackets, abbreviations, quotes and bullets.
WORDS = (
    "CRM customer data project ROI leadership ownership rollout strategy fails integration "
    "measure phase pilot budget goals software vendor the and our of to is not never "
    "cannot IT CEO Gartner Chicago 2004 55% 1,000 [3] [CRM] <b> </b> ** e.g. Dr. etc. "
    'This It However Such • – - ( ) “ ” " ’ ...'
).split()
OFF_TOPIC = (
    "Preheat the oven to 220 degrees and roast the vegetables for forty minutes.",
    "Knead the dough until it is smooth, then let it rise for an hour.",
    "Whisk the eggs with the sugar before folding in the sifted flour.",
    "Simmer the tomato sauce slowly with garlic and a handful of fresh basil.",
    "Season the risotto with parmesan and stir in a knob of butter at the end.",
    "Jupiter has dozens of known moons, the largest of which is Ganymede.",
    "A light-year is the distance that light travels through space in one year.",
    "The Andromeda galaxy is slowly approaching our own Milky Way.",
    "Saturn's rings are made mostly of chunks of ice and rock.",
    "A total solar eclipse happens when the Moon passes directly in front of the Sun.",
    "Neutron stars are so dense that a teaspoon of one would weigh billions of tonnes.",
    "Comets grow bright tails of gas and dust as they swing close to the Sun.",
)


def budget(examples: int) -> hypothesis.settings:
    """Few examples and no deadline: an example's time depends on how much new text it embeds."""
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@cache
def corpus() -> tuple[tuple[str, str], ...]:
    """(text, kind) of every passage of the shipped corpus, split as ingest splits it."""
    docs = load_corpus(PROJECT_ROOT / "corpus")
    return tuple((p.text, p.kind) for d in docs for p in split_document(d))


def spike(text: str, spikes: list[tuple[int, str]]) -> str:
    """The text with each spike put in place of one of its spaces (chosen by index)."""
    for where, piece in spikes:
        # Even indices pick a space between sentences, where a sentence pair is joined.
        ends = [m.start() for m in re.finditer(r"(?<=[.!?”\"]) ", text)]
        gaps = ends if where % 2 == 0 and ends else [i for i, c in enumerate(text) if c == " "]
        if gaps:
            i = gaps[where % len(gaps)]
            text = f"{text[:i]}{piece if piece.isspace() else f' {piece} '}{text[i + 1 :]}"
    return text


corpus_passage = st.deferred(lambda: st.sampled_from(corpus()))
corpus_text = corpus_passage.map(lambda passage: passage[0])
# Real passages with something odd inside: footnote-like markers, an editor's brackets,
# markup, abbreviations, quotes, bullets, and the line separators that str.splitlines()
# cuts at but sentence splitting keeps inside a sentence.
SPIKES = ["[3]", "[1, 2]", "[٣]", "[CRM]", "[The]", "[sic]", "<b>", "**", "e.g.", "Dr."]
SPIKES += ["“", '"', "•", "- ", "  ", "\t", "\n", "\u2028", "\x1e", "\x85", "\x0c"]
spike_list = st.lists(
    st.tuples(st.integers(0, 200), st.sampled_from(SPIKES)), min_size=1, max_size=6
)
spiked_text = st.builds(spike, corpus_text, spike_list)
# Real passages whose sentences are parted by other whitespace than one space.
RESPACE = re.compile(r"(?<=[.!?”\"]) (?=\S)")
respaced = st.sampled_from(["  ", "\t", "\n", " \u2028"])
word = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=10))
generated_sentence = st.builds(
    lambda words, end, upper: (" ".join(words).capitalize() if upper else " ".join(words)) + end,
    st.lists(word, min_size=1, max_size=14),
    st.sampled_from([".", ".", ".", "!", "?", ":", "", ".”", '."', ".)", " [2].", "…"]),
    st.booleans(),
)
prose = st.lists(
    st.tuples(generated_sentence, st.sampled_from([" ", " ", "  ", "\n", "\n\n", "\t", " \n "])),
    min_size=1,
    max_size=5,
).map(lambda parts: "".join(s + sep for s, sep in parts).rstrip())
long_text = st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=40), st.integers(20, 150))
# Past the question limit once whitespace is folded (or blank, when the unit is a space).
over_limit = st.text(alphabet="ab ?", min_size=1, max_size=3).map(lambda s: s * 2001)
odd_text = st.sampled_from(["", " ", "\n\n", "[3]", "[1][2]", "<p></p>", "...", "- [1]", "•"])
separator = st.sampled_from([" ", "  ", "\n", "\n\n", "\t"])
passage_text = st.one_of(
    corpus_text,
    spiked_text,
    prose,
    # A generated sentence either side of a real passage: a short one makes a lead-in pair.
    st.builds(
        lambda a, sep, b, c: f"{a}{sep}{b}{sep}{c}",
        generated_sentence,
        separator,
        corpus_text,
        prose,
    ),
    st.text(max_size=300),
    long_text,
    odd_text,
)
quotable_source = st.one_of(corpus_text, spiked_text, prose, st.text(min_size=1, max_size=300))
crm_question = st.sampled_from(
    [
        "Why is our CRM plan too broad?",
        "Who should own the CRM project?",
        "How should we phase the rollout?",
        "Why do CRM projects fail?",
        "How do we measure the ROI of CRM?",
        "Does poor customer data quality matter?",
    ]
)
question_text = st.one_of(crm_question, prose, st.text(max_size=200), long_text, odd_text)
# A real question inside arbitrary text: an unrelated query vector leaves every answer empty,
# and an empty answer proves nothing about quoting, markers or limits.
asked = st.builds(
    lambda q, noise, before: f"{noise} {q}" if before else f"{q} {noise}",
    crm_question,
    st.one_of(st.just(""), generated_sentence, st.text(max_size=40), odd_text),
    st.booleans(),
)
fusion = st.floats(0.0, 1.0)
corpus_hit = st.builds(lambda passage, f: (*passage, f), corpus_passage, fusion)
any_hit = st.tuples(passage_text, st.sampled_from(["article", "note"]), fusion)
spiked_hit = st.builds(
    lambda passage, odd, f: (spike(passage[0], odd), passage[1], f),
    corpus_passage,
    spike_list,
    fusion,
)
respaced_hit = st.builds(
    lambda passage, gap, f: (RESPACE.sub(gap, passage[0]), passage[1], f),
    corpus_passage,
    respaced,
    fusion,
)
# Many retrievals are real passages only, so that answers are often long enough for the
# sentence limits to bind; the rest mix in generated and arbitrary text.
real_hit = st.one_of(corpus_hit, spiked_hit, respaced_hit)
hit_specs = st.one_of(
    st.lists(st.one_of(real_hit, any_hit), max_size=5),
    st.lists(real_hit, min_size=1, max_size=5),
)


class _Unshared:
    """The real model under a new identity, so VectorCache.shared starts it with no vectors."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.name = embedder.name

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._embedder.embed_query(text)


def retrieval_for(
    embedder: Embedder,
    question: str,
    specs: list[tuple[str, str, float]],
    weighted: bool,
    unranked: bool = False,
) -> Retrieval:
    """A Retrieval as the searcher builds it, over the given passages, ranked as listed."""
    hits = [
        Hit(
            IndexedPassage(f"p{i}", text, {"kind": kind, "doc_id": f"doc-{i}", "title": f"D{i}"}),
            similarity=fused,
            # With lexical_weight 0, hits that only BM25 found carry no fusion score at all.
            fused=0.0 if unranked else fused,
        )
        for i, (text, kind, fused) in enumerate(specs)
    ]
    # The searcher weighs query terms by IDF (floored at 0.05), or leaves them unweighted.
    weights = {t: 0.05 + len(t) % 7 for t in content_terms(question)} if weighted else {}
    return Retrieval(
        query=question,
        hits=hits,
        query_vector=np.asarray(embedder.embed_query(question), dtype=np.float32),
        passed_gate=True,
        best_similarity=max((h.similarity for h in hits), default=0.0),
        term_weights=weights,
    )


def bullets(text: str) -> list[tuple[str, int]]:
    """(sentence, n) of each bullet of a rendered answer; every other line must be framing."""
    out = []
    # render joins lines with "\n" only, so split on that and nothing else.
    for line in text.split("\n"):
        if line in FRAMING:
            continue
        m = BULLET.fullmatch(line)
        assert m, f"neither framing nor a cited sentence: {line!r}"
        out.append((m.group(1), int(m.group(2))))
    return out


@pytest.fixture(scope="module")
def base_settings() -> Settings:
    return Settings(data_dir=PROJECT_ROOT / "unused")


@pytest.fixture(scope="module")
def composer(embedder: Embedder, base_settings: Settings) -> ExtractiveComposer:
    composer = ExtractiveComposer(embedder, base_settings)
    # One batch for the whole corpus is far cheaper than a few sentences per example.
    composer.warm([text for text, _ in corpus()])
    return composer


@pytest.fixture(scope="module")
def checker(embedder: Embedder) -> SupportChecker:
    return SupportChecker(embedder)


@pytest.fixture(scope="module")
def live_advisor(
    index_dir: Path, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Advisor]:
    # Module-scoped, unlike conftest's `advisor`, because Hypothesis reuses it across examples.
    db = tmp_path_factory.mktemp("properties") / "conv.db"
    advisor = Advisor(
        Settings(data_dir=index_dir, database_url=f"sqlite:///{db}"), embedder=embedder
    )
    yield advisor
    advisor.close()


# -- the composer ---------------------------------------------------------------------------


@budget(30)
@given(
    question=st.one_of(asked, question_text),
    specs=hit_specs,
    weighted=st.booleans(),
    unranked=st.booleans(),
)
def test_composing_never_raises(
    composer: ExtractiveComposer,
    embedder: Embedder,
    question: str,
    specs: list[tuple[str, str, float]],
    weighted: bool,
    unranked: bool,
) -> None:
    """Any question over any passages composes and renders without raising."""
    retrieval = retrieval_for(embedder, question, specs, weighted, unranked)
    composition = composer.compose(question, retrieval)
    text, order = render(composition)
    assert composition.empty == (text == "")
    assert all(0 <= i < len(specs) for i in order)


@budget(40)
@given(question=st.one_of(question_text, over_limit, st.none(), st.integers(), st.binary()))
def test_asking_raises_nothing_but_invalid_input(live_advisor: Advisor, question: object) -> None:
    """Asking anything answers with cited quotes or a fixed refusal, or raises InvalidInputError."""
    try:
        answer = live_advisor.ask(question)  # type: ignore[arg-type]
    except InvalidInputError:
        return
    if not answer.answered:
        fixed = (REFUSAL, INSTRUCTION_REFUSAL, SMALLTALK_REPLY, GREETING_REPLY, NOISE_REPLY)
        assert not answer.citations
        assert answer.answer in fixed or answer.intent == "other_language", answer.answer
        return
    quotes = {c.n: c.quote for c in answer.citations}
    for sentence, n in bullets(answer.answer):
        assert sentence in quotes[n]


@budget(40)
@given(question=asked, specs=hit_specs, weighted=st.booleans())
def test_every_sentence_is_verbatim_from_the_passage_it_cites(
    composer: ExtractiveComposer,
    embedder: Embedder,
    question: str,
    specs: list[tuple[str, str, float]],
    weighted: bool,
) -> None:
    """Every line of an answer is fixed framing or a verbatim span of the passage it cites."""
    retrieval = retrieval_for(embedder, question, specs, weighted)
    text, order = render(composer.compose(question, retrieval))
    for sentence, n in bullets(text):
        assert sentence.strip() == sentence and sentence
        assert sentence in retrieval.hits[order[n - 1]].passage.text


@budget(40)
@given(question=asked, specs=hit_specs, weighted=st.booleans())
def test_every_marker_names_an_existing_citation(
    composer: ExtractiveComposer,
    embedder: Embedder,
    question: str,
    specs: list[tuple[str, str, float]],
    weighted: bool,
) -> None:
    """Every [n] in an answer names one of its citations, and every citation is used."""
    retrieval = retrieval_for(embedder, question, specs, weighted)
    composition = composer.compose(question, retrieval)
    state = AskState(question, "c", retrieval=retrieval, composition=composition)
    state.standalone, state.query = question, strip_injection(question)[0]
    answer = extractive_answer(state, composer.name)
    if not answer.answered:
        assert answer.answer in (REFUSAL, INSTRUCTION_REFUSAL) and not answer.citations
        return
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert {n for _, n in bullets(answer.answer)} == set(numbers)
    # Markers as a reader (or the guard) reads them, including any inside a quoted sentence.
    written = {
        n.strip().lstrip("0") or "0"
        for group in MARKER.findall(answer.answer)
        for n in re.split(r"[,;]", group)
    }
    assert written <= {str(n) for n in numbers}, f"{written} name no citation"


@budget(25)
@given(
    question=asked,
    # One or two passages are where the cap of two sentences per passage binds.
    specs=st.one_of(hit_specs, st.lists(corpus_hit, min_size=1, max_size=2)),
    weighted=st.booleans(),
    limit=st.sampled_from(range(1, 7)),
)
def test_no_answer_is_longer_than_the_limit(
    embedder: Embedder,
    base_settings: Settings,
    question: str,
    specs: list[tuple[str, str, float]],
    weighted: bool,
    limit: int,
) -> None:
    """No answer has more bullets than max_answer_sentences, nor three from one passage."""
    settings = base_settings.model_copy(update={"max_answer_sentences": limit})
    composer = ExtractiveComposer(embedder, settings)
    text, _ = render(composer.compose(question, retrieval_for(embedder, question, specs, weighted)))
    cited = [n for _, n in bullets(text)]
    assert len(cited) <= limit
    assert all(cited.count(n) <= 2 for n in cited)


@budget(10)
@given(
    question=asked,
    specs=hit_specs,
    weighted=st.booleans(),
    limit=st.sampled_from(range(1, 7)),
)
def test_composing_is_deterministic(
    embedder: Embedder,
    base_settings: Settings,
    question: str,
    specs: list[tuple[str, str, float]],
    weighted: bool,
    limit: int,
) -> None:
    """The same question and passages give the same answer, whatever was embedded before."""
    # A low limit makes the choice between close scores matter.
    settings = base_settings.model_copy(update={"max_answer_sentences": limit})
    composer = ExtractiveComposer(embedder, settings)
    retrieval = retrieval_for(embedder, question, specs, weighted)
    first = render(composer.compose(question, retrieval))
    for _ in range(3):
        assert render(composer.compose(question, retrieval)) == first
    # A composer with an empty cache embeds the sentences in other batches than the shared one.
    fresh = ExtractiveComposer(_Unshared(embedder), settings)
    assert render(fresh.compose(question, retrieval)) == first


@budget(40)
@given(question=asked, specs=hit_specs, weighted=st.booleans())
def test_cited_sentences_reads_back_a_rendered_answer(
    composer: ExtractiveComposer,
    embedder: Embedder,
    question: str,
    specs: list[tuple[str, str, float]],
    weighted: bool,
) -> None:
    """cited_sentences returns each sentence of a rendered answer with exactly its marker."""
    composition = composer.compose(question, retrieval_for(embedder, question, specs, weighted))
    text, _ = render(composition)
    assert cited_sentences(text) == [(s, [n]) for s, n in bullets(text)]


# -- the support check ----------------------------------------------------------------------

any_sentence = st.one_of(
    generated_sentence, st.text(max_size=200), corpus_text, st.sampled_from(OFF_TOPIC)
)


@budget(30)
@given(passages=st.lists(passage_text, max_size=4), data=st.data())
def test_support_scores_lie_in_the_unit_interval(
    checker: SupportChecker, passages: list[str], data: st.DataObject
) -> None:
    """Support scores and coverage lie in [0, 1] for any sentence and passages."""
    # Quotes from the passages reach the top of the range, where an overflow would show.
    quotes = [q for p in passages for q in split_sentences(p)]
    sentence = data.draw(st.one_of(any_sentence, st.sampled_from(quotes or [""])), "sentence")
    verdict = checker.check(sentence, passages)
    assert 0.0 <= verdict.score <= 1.0
    assert 0.0 <= verdict.coverage <= 1.0
    assert verdict.supported == (verdict.score >= checker.threshold)


@budget(20)
@given(sentence=any_sentence, passages=st.lists(passage_text, min_size=1, max_size=3))
def test_the_verdict_agrees_with_the_score_it_reports(
    embedder: Embedder, checker: SupportChecker, sentence: str, passages: list[str]
) -> None:
    """At a threshold equal to a reported score the sentence is supported; just above, not."""
    # A blank sentence is never supported, whatever the threshold.
    assume(sentence.strip())
    score = checker.check(sentence, passages).score
    assert SupportChecker(embedder, threshold=score).check(sentence, passages).supported
    above = SupportChecker(embedder, threshold=score + 1e-4)
    assert not above.check(sentence, passages).supported


@budget(30)
@given(source=quotable_source, data=st.data())
def test_a_verbatim_sentence_is_supported_by_its_passage(
    checker: SupportChecker, source: str, data: st.DataObject
) -> None:
    """Any sentence copied verbatim from a passage is supported by that passage."""
    sentences = split_sentences(source)
    assume(sentences)
    quote = data.draw(st.sampled_from(sentences), label="quote")
    verdict = checker.check(quote, [source])
    assert verdict.supported, verdict


@budget(20)
@given(
    sentence=st.sampled_from(OFF_TOPIC),
    passages=st.lists(corpus_text, min_size=1, max_size=6, unique=True),
)
def test_an_off_topic_sentence_is_not_supported_by_crm_passages(
    checker: SupportChecker, sentence: str, passages: list[str]
) -> None:
    """A sentence about cooking or astronomy is not supported by any set of CRM passages."""
    verdict = checker.check(sentence, passages)
    assert not verdict.supported, verdict


@budget(20)
@given(
    source=quotable_source,
    extra=st.lists(passage_text, min_size=1, max_size=4),
    at=st.integers(0, 4),
    data=st.data(),
)
def test_more_passages_never_lower_a_verbatim_sentences_support(
    checker: SupportChecker, source: str, extra: list[str], at: int, data: st.DataObject
) -> None:
    """Adding passages around a sentence's source never lowers its support."""
    sentences = split_sentences(source)
    assume(sentences)
    quote = data.draw(st.sampled_from(sentences), label="quote")
    alone = checker.check(quote, [source])
    more = [*extra[:at], source, *extra[at:]]
    joint = checker.check(quote, more)
    assert joint.score >= alone.score and joint.supported, (alone, joint)


@budget(20)
@given(
    sentence=any_sentence,
    cited=st.lists(passage_text, min_size=1, max_size=3),
    extra=st.lists(passage_text, min_size=1, max_size=3),
)
def test_more_passages_never_take_evidence_away(
    checker: SupportChecker, sentence: str, cited: list[str], extra: list[str]
) -> None:
    """Added passages never lower coverage or similarity, nor add missing numbers or names."""
    # With no sentence at all, the blank passages themselves are compared; that is no evidence.
    assume(any(split_sentences(p) for p in cited))
    before = checker.check(sentence, cited)
    after = checker.check(sentence, [*cited, *extra])
    assert after.coverage >= before.coverage
    assert after.similarity >= before.similarity - 1e-6
    assert after.missing_numbers <= before.missing_numbers
    assert after.missing_names <= before.missing_names


marker_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from([*'[]0123456789 .-•*\n\t:AbZ"“(', "٣", "²"])),
    st.builds(
        lambda head, digit, width: f"{head} [{digit * width}]",
        prose,
        st.sampled_from("0123456789"),
        st.integers(1, 6000),
    ),
)


@budget(200)
@given(text=marker_text)
def test_cited_sentences_never_raises_and_returns_only_written_markers(text: str) -> None:
    """Parsing [n] markers never raises on any text and returns only markers written in it."""
    written = {int(n) for n in re.findall(r"\[(\d{1,9})\]", text)}
    for _, numbers in cited_sentences(text):
        assert set(numbers) <= written
