"""The corpus: load Markdown files with front matter, clean web clutter, split into passages."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from advisor.errors import CorpusError
from advisor.patterns import PATTERNS
from advisor.text import split_sentences

__all__ = ["PATTERNS", "Passage", "SourceDoc", "load_corpus", "split_document", "split_sentences"]

KINDS = ("article", "note")
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.S)
_SYMBOL_ONLY = re.compile(r"^[\W_]*$")
_WORD = re.compile(r"[A-Za-z0-9']+")
_HEADING = re.compile(r"^#{1,6}\s+(.*)$")


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
    paragraphs: list[tuple[str, str]], title: str, rules: Iterable[Rule]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Apply structural and file rules; return (kept, removed-with-rule-name)."""
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
        if reason is None and not seen_body and not section:
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
    if "\x00" in raw:
        raise CorpusError(f"{path.name}: contains NUL bytes", [(str(path), "binary content")])
    m = _FRONT_MATTER.match(raw)
    if not m:
        raise CorpusError(f"{path.name}: no front matter", [(str(path), "no front matter")])
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        reason = f"broken front matter: {str(exc).splitlines()[0]}"
        raise CorpusError(f"{path.name}: {reason}", [(str(path), reason)]) from exc
    problems = _check_meta(meta)
    if problems:
        raise CorpusError(f"{path.name}: {problems}", [(str(path), problems)])
    body = raw[m.end() :]
    doc = SourceDoc(path, str(meta["id"]), str(meta["title"]), meta["kind"], meta, body)
    doc.paragraphs, doc.removed = clean_paragraphs(_split_body(body), doc.title, rules)
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
    if meta["kind"] == "note":
        if meta.get("pattern") not in PATTERNS:
            return f"note pattern {meta.get('pattern')!r} is not a known failure pattern"
        if not isinstance(meta.get("sources"), list):
            return "note sources must be a list of article ids"
    return ""


def load_corpus(corpus_dir: Path) -> list[SourceDoc]:
    """Load every article and note; collect all problems and raise them together."""
    rules = load_rules(corpus_dir / "cleaning.yaml")
    files = sorted((corpus_dir / "articles").glob("*.md")) + sorted(
        (corpus_dir / "notes").glob("*.md")
    )
    docs: list[SourceDoc] = []
    problems: list[tuple[str, str]] = []
    for path in files:
        try:
            docs.append(parse_file(path, rules))
        except CorpusError as exc:
            problems.extend(exc.problems)
    seen: dict[str, Path] = {}
    for doc in docs:
        if doc.id in seen:
            problems.append((str(doc.path), f"duplicate id {doc.id!r} (also {seen[doc.id].name})"))
        seen[doc.id] = doc.path
    articles = {d.id for d in docs if d.kind == "article"}
    for doc in docs:
        unknown = [s for s in doc.meta.get("sources") or [] if s not in articles]
        if doc.kind == "note" and unknown:
            problems.append((str(doc.path), f"unknown source ids {unknown}"))
    if problems:
        listing = "; ".join(f"{Path(p).name}: {why}" for p, why in problems)
        raise CorpusError(f"{len(problems)} bad corpus file(s): {listing}", problems)
    if not docs:
        raise CorpusError(f"no corpus files under {corpus_dir}", [(str(corpus_dir), "empty")])
    return docs


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
    for key in ("author", "publication", "date", "pattern"):
        if doc.meta.get(key):
            meta[key] = str(doc.meta[key])
    if doc.meta.get("sources"):
        meta["sources"] = ",".join(str(s) for s in doc.meta["sources"])
    groups: list[tuple[str, list[str]]] = []
    for section, text in doc.paragraphs:
        if groups and groups[-1][0] == section:
            groups[-1][1].append(text)
        else:
            groups.append((section, [text]))
    passages: list[Passage] = []
    for section, paras in groups:
        for chunk in _splitter(chunk_size).split_text("\n\n".join(paras)):
            text = chunk.strip()
            if text:
                passages.append(
                    Passage(doc.id, doc.title, doc.kind, len(passages), text, section, meta)
                )
    return passages
