"""Corpus loading, the cleaning rules and passage splitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from advisor.config import PROJECT_ROOT
from advisor.errors import CorpusError
from advisor.knowledge.corpus import (
    PATTERNS,
    clean_paragraphs,
    load_corpus,
    load_rules,
    parse_file,
    split_document,
)
from advisor.text import split_sentences

CORPUS = PROJECT_ROOT / "corpus"
CLUTTER = [
    "Read more on",
    "Subscribe to",
    "Get updates delivered",
    "Thank you for your subscription",
    "Share the post",
    "Forum: Share your thoughts",
    "Debate the issue",
    "Please create a username",
    "Send me notifications",
    "Start the conversation",
    "Dig Deeper on",
    "To register for a free email subscription",
    "This post first appeared on",
    "can be reached at",
    "Upgrade To A Business Listing",
    "Stay informed about the latest",
    "The other side by",
    "×",
]


@pytest.fixture(scope="module")
def docs():  # type: ignore[no-untyped-def]
    return {d.id: d for d in load_corpus(CORPUS)}


def test_the_five_articles_and_twelve_notes_load(docs) -> None:  # type: ignore[no-untyped-def]
    articles = [d for d in docs.values() if d.kind == "article"]
    notes = [d for d in docs.values() if d.kind == "note"]
    assert len(articles) == 5
    assert {n.meta["pattern"] for n in notes if "pattern" in n.meta} == set(PATTERNS)
    assert len([n for n in notes if "topic" in n.meta]) == 6
    for note in notes:
        assert set(note.meta["sources"]) <= {a.id for a in articles}


def test_every_answer_entry_quotes_its_evidence_word_for_word(docs) -> None:  # type: ignore[no-untyped-def]
    answers = [d for d in docs.values() if d.kind == "answer"]
    assert len(answers) >= 60
    bodies = {d.id: " ".join(d.body.split()) for d in docs.values() if d.kind == "article"}
    for entry in answers:
        assert len(entry.meta["questions"]) >= 3, entry.id
        # A question asked the other way round is listed as ``opposite``, never as its own.
        assert not set(entry.meta["questions"]) & set(entry.meta.get("opposite", [])), entry.id
        for quote in entry.meta["evidence"]:
            assert any(" ".join(quote.split()) in bodies[s] for s in entry.meta["sources"]), quote


def test_articles_keep_the_seed_text_verbatim() -> None:
    seeds = sorted((PROJECT_ROOT.parent / "shared" / "seeds").glob("*.txt"))
    if not seeds:
        pytest.skip("../shared/seeds is not beside this checkout")
    bodies = [p.read_text(encoding="utf-8") for p in (CORPUS / "articles").glob("*.md")]
    for seed in seeds:
        text = seed.read_text(encoding="utf-8")
        assert any(text.strip() in body for body in bodies), seed.name


def test_clutter_never_reaches_a_passage(docs) -> None:  # type: ignore[no-untyped-def]
    for doc in docs.values():
        for passage in split_document(doc):
            for phrase in CLUTTER:
                assert phrase.lower() not in passage.text.lower(), (doc.id, phrase)


def test_repeated_standfirst_kept_once(docs) -> None:  # type: ignore[no-untyped-def]
    standfirst = "Many CRM failures have little to do with flawed technology"
    text = "\n".join(p.text for p in split_document(docs["it-carries-the-can"]))
    assert text.count(standfirst) == 1
    selland = "\n".join(p.text for p in split_document(docs["accountability-users"]))
    assert selland.lower().count("blaming vendors for crm failures is simplistic") == 1


def test_content_survives_cleaning(docs) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(p.text for p in split_document(docs["accountability-users"]))
    assert "“boil the ocean” exercise" in text
    assert "Selland is managing director of Reservoir Partners" in text  # bio kept, contact cut
    gartner = "\n".join(p.text for p in split_document(docs["gartner-crm-summit-2000"]))
    assert "Strategize" in gartner and "bite-size projects" in gartner


def test_rules_clean_a_new_article_the_same_way(tmp_path: Path) -> None:
    new = tmp_path / "new.md"
    new.write_text(
        "---\nid: new-one\ntitle: Pilots beat big bangs\nkind: article\n---\n"
        "Upgrade To A Premium Listing >>\n\nby Jane Doe\n\nPilots beat big bangs\n\n"
        "A phased CRM rollout lets a company learn from a pilot before it commits the "
        "whole organisation to a new way of working.\n\n"
        "A phased CRM rollout lets a company learn from a pilot before it commits the "
        "whole organisation to a new way of working.\n\n"
        "Subscribe to Our Newsletter\n\nShare this article\n\nRead more about CRM\n\n"
        "Copyright 2024 Example Media\n\nShe can be reached at jane@example.com\n\n×\n",
        encoding="utf-8",
    )
    doc = parse_file(new, load_rules(CORPUS / "cleaning.yaml"))
    assert [t for _, t in doc.paragraphs] == [
        "A phased CRM rollout lets a company learn from a pilot before it commits the "
        "whole organisation to a new way of working."
    ]
    fired = {rule for rule, _ in doc.removed}
    assert {"promo_banner", "byline_or_related_link", "title_repeat", "repeated_paragraph"} <= fired
    assert {"subscription_prompt", "share_widget", "read_more", "copyright_line"} <= fired


def test_strip_rule_keeps_the_rest_of_a_paragraph() -> None:
    rules = load_rules(CORPUS / "cleaning.yaml")
    bio = "Pat Lee is a consultant at Example Ltd, a research firm based in Leeds."
    kept, removed = clean_paragraphs(
        [("", f"{bio} He can be reached at x@y.z")],
        "Some title",
        rules,
    )
    assert kept == [("", bio)]
    assert removed[0][0] == "contact_line"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("no front matter at all\n", "no front matter"),
        ("---\nid: [unclosed\n---\nbody text here\n", "broken front matter"),
        ("---\nid: x\nkind: article\n---\nbody\n", "lacks title"),
        ("---\nid: x\ntitle: T\nkind: memo\n---\nbody\n", "kind must be"),
        ("---\nid: x\ntitle: T\nkind: note\npattern: nope\nsources: []\n---\nbody\n", "pattern"),
        ("---\nid: x\ntitle: T\nkind: article\n---\n\n×\n", "empty"),
        (
            "---\nid: x\ntitle: T?\nkind: answer\ntopic: training\nsources: []\n"
            "questions: [q?]\nevidence: [e]\nopposite: not a list\n---\nNo: body.\n",
            "answer opposite must be a list",
        ),
    ],
)
def test_bad_files_are_named_with_a_reason(tmp_path: Path, content: str, reason: str) -> None:
    path = tmp_path / "bad.md"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        parse_file(path, [])
    assert "bad.md" in str(err.value)
    assert reason in str(err.value)


def test_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "binary.md"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CorpusError, match=r"binary\.md"):
        parse_file(path, [])


def test_load_corpus_reports_every_bad_file(corpus_copy: Path) -> None:
    (corpus_copy / "notes" / "a.md").write_text("---\nid: [\n---\n", encoding="utf-8")
    (corpus_copy / "articles" / "b.md").write_text("", encoding="utf-8")
    with pytest.raises(CorpusError) as err:
        load_corpus(corpus_copy)
    named = {Path(p).name for p, _ in err.value.problems}
    assert named == {"a.md", "b.md"}


def test_passages_keep_provenance(docs) -> None:  # type: ignore[no-untyped-def]
    passages = split_document(docs["note-goals-too-broad"])
    assert [p.position for p in passages] == list(range(len(passages)))
    assert {p.section for p in passages} >= {"What it looks like", "What to do instead"}
    meta = passages[0].metadata()
    assert meta["doc_id"] == "note-goals-too-broad" and meta["kind"] == "note"
    assert meta["pattern"] == "goals_too_broad"
    assert all(len(p.text) <= 600 for p in passages)


def test_sentences_are_verbatim_spans() -> None:
    text = 'He said "no more." Then “Really, ok,” she said. Cambridge, Mass. is cold. Why?'
    sentences = split_sentences(text)
    assert sentences == [
        'He said "no more."',
        "Then “Really, ok,” she said.",
        "Cambridge, Mass. is cold.",
        "Why?",
    ]
    assert all(s in text for s in sentences)
