"""The parse cache: a hit gives what parsing gives; a change, a new rule or a bad file is a miss."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from advisor.config import PROJECT_ROOT
from advisor.errors import CorpusError
from advisor.knowledge.corpus import load_corpus, parse_file, split_document
from advisor.knowledge.parsecache import ParseCache


def _passages(docs):  # type: ignore[no-untyped-def]
    return [(p.key, p.text, p.metadata()) for d in docs for p in split_document(d)]


def test_a_cached_corpus_splits_exactly_as_a_parsed_one(tmp_path: Path) -> None:
    corpus = PROJECT_ROOT / "corpus"
    cache = ParseCache(tmp_path / "cache", corpus / "cleaning.yaml")
    fresh = load_corpus(corpus)
    first = load_corpus(corpus, parse=cache.parse)
    assert cache.hits == 0
    again = ParseCache(tmp_path / "cache", corpus / "cleaning.yaml")
    cached = load_corpus(corpus, parse=again.parse)
    assert again.hits == len(fresh)
    assert _passages(fresh) == _passages(first) == _passages(cached)
    assert [d.meta.get("date") and str(d.meta["date"]) for d in fresh] == [
        d.meta.get("date") for d in cached
    ]


def test_changed_files_and_rules_miss_and_stale_entries_are_pruned(
    tmp_path: Path, corpus_copy: Path
) -> None:
    rules = corpus_copy / "cleaning.yaml"
    load_corpus(corpus_copy, parse=ParseCache(tmp_path / "c", rules).parse)
    note = corpus_copy / "notes" / "no-resources.md"
    note.write_text(note.read_text(encoding="utf-8").replace("contingency", "reserve", 1))
    cache = ParseCache(tmp_path / "c", rules)
    docs = load_corpus(corpus_copy, parse=cache.parse)
    assert cache.hits == len(docs) - 1
    changed = next(d for d in docs if d.path == note)
    assert any("reserve" in t for _, t in changed.paragraphs)
    before = len(list((tmp_path / "c").glob("*.json")))
    cache.prune()
    assert len(list((tmp_path / "c").glob("*.json"))) == before - 1 == len(docs)

    rules.write_text(rules.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    fresh_rules = ParseCache(tmp_path / "c", rules)
    load_corpus(corpus_copy, parse=fresh_rules.parse)
    assert fresh_rules.hits == 0


def test_a_bad_file_raises_as_parsing_does_and_is_not_cached(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\nid: [\n---\nbody\n", encoding="utf-8")
    cache = ParseCache(tmp_path / "c", PROJECT_ROOT / "corpus" / "cleaning.yaml")
    for parse in (parse_file, cache.parse):
        with pytest.raises(CorpusError, match="broken front matter"):
            parse(bad, [])
    assert not list((tmp_path / "c").glob("*.json"))
    shutil.rmtree(tmp_path / "c", ignore_errors=True)
