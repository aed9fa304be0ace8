"""Parsed corpus files kept by content digest, so a re-ingest parses only what changed.

Parsing is most of a re-ingest's work at scale: the front matter, the cleaning rules on
every paragraph, the structural rules (about 10 ms a file; 50 s for 5,000 files). The cache
keeps each parsed file as JSON under ``<data_dir>/cache/parsed/``, named by a digest of the
file's text, the cleaning rules and this module's version, so a changed file, a changed
rule or a new parser is a miss. Entries no run has used are pruned after each ingest.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from advisor.errors import CorpusError
from advisor.knowledge.corpus import Rule, SourceDoc, parse_text

log = logging.getLogger("advisor.index")
VERSION = "1"  # bump when parse_text's output changes


class ParseCache:
    """``parse(path, rules)`` as ``corpus.parse_file`` does it, from the cache when it can."""

    def __init__(self, folder: Path, rules_file: Path) -> None:
        self.folder = folder
        rules = rules_file.read_bytes() if rules_file.exists() else b""
        self._salt = hashlib.sha1(VERSION.encode() + rules).hexdigest()
        self.used: set[str] = set()
        self.hits = 0

    def parse(self, path: Path, rules: list[Rule]) -> SourceDoc:
        """The parsed file; raises CorpusError as ``parse_file`` does (errors are not kept)."""
        try:
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = [(str(path), "unreadable")]
            raise CorpusError(f"{path.name}: unreadable ({exc})", reason) from exc
        key = hashlib.sha1(f"{self._salt}\n{raw}".encode()).hexdigest()
        self.used.add(key)
        entry = self.folder / f"{key}.json"
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
            self.hits += 1
            return _doc(path, data)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a miss, or an entry a killed process left half-written
        doc = parse_text(path, raw, rules)
        self._save(entry, doc)
        return doc

    def prune(self) -> None:
        """Delete the entries this run did not use (files since changed or removed)."""
        for entry in self.folder.glob("*.json"):
            if entry.stem not in self.used:
                entry.unlink(missing_ok=True)

    def _save(self, entry: Path, doc: SourceDoc) -> None:
        data = {
            "id": doc.id,
            "title": doc.title,
            "kind": doc.kind,
            "meta": doc.meta,
            "paragraphs": doc.paragraphs,
            "removed": doc.removed,
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_name(entry.name + ".tmp")
            # YAML dates become their ISO text, as every later use of the metadata makes them.
            tmp.write_text(json.dumps(data, default=str, ensure_ascii=False), encoding="utf-8")
            tmp.replace(entry)
        except OSError as exc:  # a cache that cannot be written only costs time
            log.warning("could not cache the parsed %s: %s", doc.path.name, exc)


def _doc(path: Path, data: dict[str, Any]) -> SourceDoc:
    doc = SourceDoc(path, data["id"], data["title"], data["kind"], data["meta"], "")
    doc.paragraphs = [(s, t) for s, t in data["paragraphs"]]
    doc.removed = [(r, t) for r, t in data["removed"]]
    return doc
