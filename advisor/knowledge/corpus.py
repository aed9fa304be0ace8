"""The corpus: load Markdown files with front matter, clean web clutter, split into passages.

Three kinds of file: ``articles/`` (the seed articles, word for word), ``notes/`` (advice in
our own words, one per failure pattern or per topic) and ``answers/`` (short direct answers
in our own words, each with the ``questions`` it answers in several phrasings and the
``evidence``: sentences quoted verbatim from its ``sources`` articles). A yes/no entry may
also list ``opposite`` questions: on its topic, but asked the other way round, so that its
text answers them and its verdict does not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from advisor.errors import CorpusError
from advisor.patterns import PATTERNS
from advisor.text import split_sentences, squash

__all__ = ["PATTERNS", "Passage", "SourceDoc", "load_corpus", "split_document", "split_sentences"]

KINDS = ("article", "note", "answer")
FOLDERS = ("articles", "notes", "answers")
TOPICS = (
    "user_adoption", "executive_sponsorship", "requirements_gathering", "vendor_selection",
    "training", "change_management", "adoption", "sponsorship", "requirements",
    "failure_rates", "crm_basics",
)  # fmt: skip
FRONT_MATTER = re.compile(
    r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S
)  # also read by convert, library
_SYMBOL_ONLY = re.compile(r"^[\W_]*$")
_WORD = re.compile(r"[A-Za-z0-9']+")
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
# libyaml's safe loader when it is there: the same documents, parsed about ten times faster.
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PAGE = re.compile(r"Page (\d+)")  # an added PDF's page sections (advisor.knowledge.convert)


@dataclass(frozen=True)
class Passage:
    """One indexed unit of text with its provenance."""

    doc_id: str
    title: str
    kind: str
    position: int
    text: str
    section: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable display key: doc id and position."""
        return f"{self.doc_id}#{self.position}"

    @staticmethod
    def doc_of(key: str) -> str:
        """The document id of a passage ``key``."""
        return key.rsplit("#", 1)[0]

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata for the vector store (scalars only)."""
        out: dict[str, str | int] = {
            "doc_id": self.doc_id,
            "title": self.title,
            "kind": self.kind,
            "position": self.position,
            "section": self.section,
            "source": self.doc_id,
        }
        out.update(self.meta)
        return out


@dataclass
class SourceDoc:
    """A corpus file: front matter, raw body and cleaned paragraphs."""

    path: Path
    id: str
    title: str
    kind: str
    meta: dict[str, Any]
    body: str
    paragraphs: list[tuple[str, str]] = field(default_factory=list)  # (section, text)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (rule, text)


@dataclass(frozen=True)
class Rule:
    """One cleaning rule: a named regular expression and what to do on a match."""

    name: str
    action: str  # "drop" or "strip"
    pattern: re.Pattern[str]


def load_rules(path: Path) -> list[Rule]:
    """Read cleaning rules from YAML; a broken rule file is a CorpusError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        rules = [
            Rule(item["name"], action, re.compile(item["pattern"]))
            for action in ("drop", "strip")
            for item in data.get(action, []) or []
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError, re.error) as exc:
        raise CorpusError(f"cleaning rules {path}: {exc}", [(str(path), str(exc))]) from exc
    return rules


def _fold(text: str) -> str:
    return re.sub(r"[ \t\u00a0]+", " ", text).strip()


def _word_count(text: str) -> int:
    return len(_WORD.findall(text))


def _is_body_paragraph(text: str) -> bool:
    return _word_count(text) >= 12 and text.rstrip().endswith((".", "!", "?", '"', "”", ":"))


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def clean_paragraphs(
    paragraphs: list[tuple[str, str]], title: str, rules: Iterable[Rule], header: bool = True
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Apply structural and file rules; return (kept, removed-with-rule-name).

    ``header`` drops the short lines above a scraped article's first body paragraph (its
    byline, date and menu); an added document's converter has already taken those out.
    """
    rules = list(rules)
    kept: list[tuple[str, str]] = []
    removed: list[tuple[str, str]] = []
    title_norm = _norm(title)
    seen_body = False
    for section, raw in paragraphs:
        text = _fold(raw)
        reason = None
        if _SYMBOL_ONLY.match(text):
            reason = "symbol_only"
        elif _norm(text) == title_norm:
            reason = "title_repeat"
        else:
            for rule in rules:
                if rule.action == "drop" and rule.pattern.search(text):
                    reason = rule.name
                    break
                if rule.action == "strip" and rule.pattern.search(text):
                    stripped = rule.pattern.sub("", text).strip()
                    removed.append((rule.name, text[len(stripped) :].strip() or text))
                    text = stripped
            if reason is None and not text:
                reason = "empty_after_strip"
        if reason is None and header and not seen_body and not section:
            if _is_body_paragraph(text):
                seen_body = True
            elif _word_count(text) < 12:
                reason = "header_line"
        if reason:
            removed.append((reason, text))
        else:
            kept.append((section, text))
    # A paragraph repeated, or wholly contained in another one, is a repeated standfirst.
    result: list[tuple[str, str]] = []
    norms = [_norm(t) for _, t in kept]
    for i, (section, text) in enumerate(kept):
        n = norms[i]
        dup_earlier = n in norms[:i]
        contained = any(j != i and len(m) > len(n) and n in m for j, m in enumerate(norms))
        if dup_earlier or contained:
            removed.append(("repeated_paragraph", text))
        else:
            result.append((section, text))
    return result, removed


def _split_body(body: str) -> list[tuple[str, str]]:
    """Paragraphs of a Markdown body, each tagged with the heading above it."""
    out: list[tuple[str, str]] = []
    section = ""
    for block in re.split(r"\n\s*\n", body.replace("\r\n", "\n")):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        buf: list[str] = []
        for line in lines:
            m = _HEADING.match(line.strip())
            if m:
                if buf:
                    out.append((section, " ".join(buf)))
                    buf = []
                section = m.group(1).strip()
            else:
                buf.append(line.strip())
        if buf:
            out.append((section, " ".join(buf) if section else "\n".join(buf)))
    return out


def parse_file(path: Path, rules: Iterable[Rule]) -> SourceDoc:
    """Load and clean one corpus file; raise CorpusError naming the reason."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorpusError(f"{path.name}: unreadable ({exc})", [(str(path), "unreadable")]) from exc
    return parse_text(path, raw, rules)


def parse_text(path: Path, raw: str, rules: Iterable[Rule]) -> SourceDoc:
    """Parse and clean a corpus file's text (``path`` names it); CorpusError on a problem."""
    if "\x00" in raw:
        raise CorpusError(f"{path.name}: contains NUL bytes", [(str(path), "binary content")])
    m = FRONT_MATTER.match(raw)
    if not m:
        raise CorpusError(f"{path.name}: no front matter", [(str(path), "no front matter")])
    try:
        meta = yaml.load(m.group(1), Loader=YAML_LOADER)
    except yaml.YAMLError as exc:
        reason = f"broken front matter: {str(exc).splitlines()[0]}"
        raise CorpusError(f"{path.name}: {reason}", [(str(path), reason)]) from exc
    problems = _check_meta(meta)
    if problems:
        raise CorpusError(f"{path.name}: {problems}", [(str(path), problems)])
    body = raw[m.end() :]
    doc = SourceDoc(path, str(meta["id"]), str(meta["title"]), meta["kind"], meta, body)
    header = meta.get("origin") != "added"
    doc.paragraphs, doc.removed = clean_paragraphs(_split_body(body), doc.title, rules, header)
    if not doc.paragraphs:
        raise CorpusError(f"{path.name}: empty after cleaning", [(str(path), "empty")])
    return doc


def _check_meta(meta: Any) -> str:
    if not isinstance(meta, dict):
        return "front matter is not a mapping"
    missing = [k for k in ("id", "title", "kind") if not meta.get(k)]
    if missing:
        return f"front matter lacks {', '.join(missing)}"
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,80}", str(meta["id"])):
        return f"bad id {meta['id']!r} (lowercase letters, digits, - and _)"
    if meta["kind"] not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}, not {meta['kind']!r}"
    if meta.get("origin") == "added":  # a user's document: no pattern or sources asked of it
        added_ok = meta["kind"] in ("article", "note")
        return "" if added_ok else "an added document is an article or a note"
    if meta["kind"] in ("note", "answer"):
        topic = meta.get("pattern") or meta.get("topic")
        if topic not in PATTERNS and topic not in TOPICS:
            return (
                f"{meta['kind']} pattern or topic {topic!r} is not a known failure pattern "
                f"or topic (patterns: {', '.join(PATTERNS)}; topics: {', '.join(TOPICS)})"
            )
        if not isinstance(meta.get("sources"), list):
            return f"{meta['kind']} sources must be a list of article ids"
    if meta["kind"] == "answer":
        for key in ("questions", "evidence"):
            items = meta.get(key)
            if (
                not isinstance(items, list)
                or not items
                or not all(isinstance(q, str) and q.strip() for q in items)
            ):
                return f"answer {key} must be a non-empty list of strings"
        opposite = meta.get("opposite", [])
        if not isinstance(opposite, list) or not all(
            isinstance(q, str) and q.strip() for q in opposite
        ):
            return "answer opposite must be a list of strings"
    return ""


def load_corpus(
    corpus_dir: Path,
    extra: Iterable[Path] = (),
    parse: Callable[[Path, list[Rule]], SourceDoc] = parse_file,
) -> list[SourceDoc]:
    """Load every article, note and answer of ``corpus_dir`` and of the ``extra`` folders
    (the added documents'); collect all problems and raise them together. ``parse`` reads
    one file (``parse_file``, or a cache's, which must raise as it does)."""
    rules = load_rules(corpus_dir / "cleaning.yaml")
    files = [
        path
        for root in (corpus_dir, *extra)
        for folder in FOLDERS
        for path in sorted((root / folder).glob("*.md"))
    ]
    docs: list[SourceDoc] = []
    problems: list[tuple[str, str]] = []
    for path in files:
        try:
            docs.append(parse(path, rules))
        except CorpusError as exc:
            problems.extend(exc.problems)
    seen: dict[str, Path] = {}
    for doc in docs:
        if doc.id in seen:
            problems.append((str(doc.path), f"duplicate id {doc.id!r} (also {seen[doc.id].name})"))
        seen[doc.id] = doc.path
    problems.extend(_check_sources(docs))
    if problems:
        listing = "; ".join(f"{Path(p).name}: {why}" for p, why in problems)
        raise CorpusError(f"{len(problems)} bad corpus file(s): {listing}", problems)
    if not docs:
        raise CorpusError(f"no corpus files under {corpus_dir}", [(str(corpus_dir), "empty")])
    return docs


def _check_sources(docs: list[SourceDoc]) -> list[tuple[str, str]]:
    """Notes and answers name known articles; an answer's evidence is quoted word for word."""
    articles = {
        d.id: squash(" ".join(t for _, t in d.paragraphs)) for d in docs if d.kind == "article"
    }
    problems: list[tuple[str, str]] = []
    for doc in docs:
        sources = [str(s) for s in doc.meta.get("sources") or []]
        unknown = [s for s in sources if s not in articles]
        if doc.kind != "article" and unknown:
            problems.append((str(doc.path), f"unknown source ids {unknown}"))
        quotes = [squash(str(q)) for q in doc.meta.get("evidence") or []]
        for n, quote in enumerate(quotes if doc.kind == "answer" else []):
            if not any(quote in articles.get(s, "") for s in sources):
                problems.append((str(doc.path), f"evidence not found in its sources: {quote!r}"))
            if quote in quotes[:n]:  # quoted twice, it would be shown twice as evidence
                problems.append((str(doc.path), f"evidence quoted twice: {quote!r}"))
    return problems


@lru_cache(maxsize=4)
def _splitter(chunk_size: int) -> Any:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=0,
        separators=["\n\n", "\n", ". ", "? ", "! ", " "],
        keep_separator="end",
    )


def split_document(doc: SourceDoc, chunk_size: int = 600) -> list[Passage]:
    """Split a cleaned document into passages, never across note sections."""
    meta: dict[str, str] = {}
    for key in ("author", "publication", "date", "pattern", "topic", "origin", "file_name"):
        if doc.meta.get(key):
            meta[key] = str(doc.meta[key])
    if doc.meta.get("sources"):
        meta["sources"] = ",".join(str(s) for s in doc.meta["sources"])
    if doc.kind == "answer":
        # Joined by a character no question contains; chroma metadata must be scalars.
        meta["questions"] = "\n".join(str(q).strip() for q in doc.meta["questions"])
        meta["evidence"] = "\n".join(squash(str(q)) for q in doc.meta["evidence"])
        if doc.meta.get("opposite"):
            meta["opposite"] = "\n".join(str(q).strip() for q in doc.meta["opposite"])
    groups: list[tuple[str, list[str]]] = []
    for section, text in doc.paragraphs:
        if groups and groups[-1][0] == section:
            groups[-1][1].append(text)
        else:
            groups.append((section, [text]))
    passages: list[Passage] = []
    # An answer entry stays whole: its first sentence must lead wherever its phrasings match.
    size = 10 * chunk_size if doc.kind == "answer" else chunk_size
    for section, paras in groups:
        for chunk in _splitter(size).split_text("\n\n".join(paras)):
            text = chunk.strip()
            if text:
                page = _PAGE.fullmatch(section) if doc.meta.get("pages") else None
                extra = {**meta, "page": page.group(1)} if page else meta
                passages.append(
                    Passage(doc.id, doc.title, doc.kind, len(passages), text, section, extra)
                )
    return passages
