"""A benchmark corpus at the scale of thousands of documents, generated reproducibly.

``make bench-corpus`` (``python -m evals.bench_corpus``) writes, outside the repository
(``BENCH_DIR``, by default ``~/.cache/crm-advisor/bench``), a corpus folder that ``make
bench-scale`` ingests and queries: the shipped corpus (so the golden questions still have
their answers) plus ``--documents`` generated articles of ``--passages`` passages each, by
default 5,000 × 20 = 100,000 passages.

The text is real English, not lorem ipsum: every generated paragraph is a seeded draw of
sentences from the shipped articles, notes and answer entries, the labelled plan sentences
in ``training/`` and the development plans in ``evals/plans/dev/``, so word frequencies,
sentence lengths and vocabulary are those of the domain. Each paragraph is sized to be one
passage (under the 600-character chunk), and a heading every five paragraphs gives the
documents sections. The same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import click
import yaml

from advisor import PROJECT_ROOT, split_sentences

DEFAULT_DIR = Path.home() / ".cache" / "crm-advisor" / "bench"
PARAGRAPH_CHARS = (380, 560)  # one passage each: under the 600-character chunk
SECTION_EVERY = 5


def sentence_pool() -> list[str]:
    """Distinct English sentences of the domain, 40 to 300 characters, in a stable order."""
    texts: list[str] = []
    for path in sorted((PROJECT_ROOT / "corpus").glob("*/*.md")):
        body = path.read_text(encoding="utf-8").split("\n---", 1)[-1]
        texts += [ln for ln in body.splitlines() if ln.strip() and not ln.startswith("#")]
    for path in sorted((PROJECT_ROOT / "training" / "plan-sentences").glob("*.yaml")):
        items = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("items") or []
        texts += [str(item.get("text", "")) for item in items]
    for path in sorted((PROJECT_ROOT / "evals" / "plans" / "dev").glob("*.yaml")):
        texts += [p["plan"] for p in yaml.safe_load(path.read_text(encoding="utf-8"))["plans"]]
    seen: dict[str, None] = {}
    for text in texts:
        for sentence in split_sentences(" ".join(text.split())):
            if 40 <= len(sentence) <= 300 and sentence[-1] in ".!?":
                seen.setdefault(sentence, None)
    return list(seen)


def paragraph(rng: random.Random, pool: list[str]) -> str:
    """Sentences drawn until the paragraph is about one passage long."""
    low, high = PARAGRAPH_CHARS
    out: list[str] = []
    size = 0
    while size < low:
        sentence = rng.choice(pool)
        if size + len(sentence) + 1 > high:
            continue
        out.append(sentence)
        size += len(sentence) + 1
    return " ".join(out)


def document(n: int, passages: int, rng: random.Random, pool: list[str]) -> str:
    """One generated article in corpus Markdown, with front matter."""
    words = rng.choice(pool).split()[:6]
    meta = {
        "id": f"bench-{n:05d}",
        "title": f"Bench document {n}: {' '.join(words).rstrip('.,;:')}",
        "kind": "article",
        "author": "Generated for the benchmark",
        "date": f"20{rng.randint(10, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
    }
    lines = ["---", yaml.safe_dump(meta, sort_keys=False).strip(), "---", ""]
    for i in range(passages):
        if i % SECTION_EVERY == 0:
            lines += [f"## Part {i // SECTION_EVERY + 1}", ""]
        lines += [paragraph(rng, pool), ""]
    return "\n".join(lines)


def generate(out: Path, documents: int, passages: int, seed: int) -> dict[str, int]:
    """Write ``out/corpus``: the shipped corpus and the generated articles. Returns counts."""
    corpus = out / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    pool = sentence_pool()
    rng = random.Random(seed)
    for n in range(documents):
        path = corpus / "articles" / f"bench-{n:05d}.md"
        path.write_text(document(n, passages, rng, pool), encoding="utf-8")
    counts = {"documents": documents, "passages_per_document": passages, "pool": len(pool)}
    (out / "corpus.json").write_text(json.dumps({**counts, "seed": seed}), encoding="utf-8")
    return counts


@click.command()
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_DIR, show_default=True)
@click.option("--documents", type=click.IntRange(1, 100_000), default=5000, show_default=True)
@click.option("--passages", type=click.IntRange(1, 200), default=20, show_default=True)
@click.option("--seed", type=int, default=20261201, show_default=True)
def main(out: Path, documents: int, passages: int, seed: int) -> None:
    """Generate the benchmark corpus (about documents × passages passages)."""
    out.mkdir(parents=True, exist_ok=True)
    counts = generate(out, documents, passages, seed)
    click.echo(f"{out / 'corpus'}: {counts}")


if __name__ == "__main__":
    main()
