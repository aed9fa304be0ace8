"""The advisor at the scale of the benchmark corpus (``make bench-corpus``): about 100,000
passages. ``make bench-scale`` (``python -m evals.bench_scale``) measures, and prints
against issue 21's targets:

- ``ingest``: a full ingest into a fresh data folder, seconds and passages per second;
- ``reingest``: the ingest after one generated document changes (one sentence appended),
  in process with the model's libraries imported, and as a fresh ``advisor ingest``;
- ``query``: warm ``Advisor.ask`` p50/p95 against the floor (one query embedding plus one
  raw Chroma query) on the same index, calls interleaved as in ``make bench``;
- ``server``: ``advisor serve`` on that index, cold start to its first answer and peak RSS
  while it answers, beside the same figures for the shipped 85-passage corpus.

Each section writes its figures into ``<BENCH_DIR>/bench-scale.json`` as it ends, so a
long run can be resumed section by section (``--sections query,server``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from advisor import Settings
from evals.bench import bench_cold_start, timed
from evals.bench_corpus import DEFAULT_DIR
from evals.bench_report import machine
from evals.harness import advisor_server, questions
from evals.load import LOAD_KEY, server_env

TARGET_QUERY_X = 2.0  # warm Advisor.ask p50, in floor p50s at the same size
TARGET_RSS_MB = 2 * 1024  # server peak RSS, MiB
TARGET_COLD_X = 1.5  # cold start to the first answer, over the 85-passage corpus's
TARGET_REINGEST_S = 10.0
SECTIONS = ("ingest", "reingest", "query", "server")


def settings_for(bench: Path) -> Settings:
    """Local files in ``bench/data``, reading ``bench/corpus``; no server even if set."""
    return Settings(
        data_dir=bench / "data", corpus_dir=bench / "corpus", chroma_url=None, database_url=None
    )


def bench_ingest(settings: Settings) -> dict[str, Any]:
    """A full ingest from nothing: seconds, passages, passages per second."""
    from advisor import ingest

    started = time.perf_counter()
    report = ingest(settings)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 1),
        "passages": report.added,
        "passages_per_s": round(report.added / seconds, 1),
        "generation": report.generation,
    }


def bench_reingest(settings: Settings) -> dict[str, Any]:
    """Append one sentence to one generated document and ingest, twice: in this process,
    with the embedding model's libraries already imported (``seconds``: what grows with the
    corpus), and as a fresh ``advisor ingest`` process (``process_seconds``: what a user
    waits, torch's imports included). The document is put back (ingest again) after each."""
    import subprocess
    import sys

    from advisor import Advisor, ingest

    _ = Advisor(settings).embedder  # the imports, paid once per process whatever the size
    path = settings.corpus_dir / "articles" / "bench-00042.md"
    original = path.read_text(encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ADVISOR_CHROMA_URL"}  # local files
    env.update(ADVISOR_DATA_DIR=str(settings.data_dir), ADVISOR_CORPUS_DIR=str(settings.corpus_dir))
    cli = [sys.executable, "-c", "from advisor.cli import main; main()", "ingest", "--json"]
    timings = {}
    for label, extra in (("seconds", "today"), ("process_seconds", "this week")):
        path.write_text(f"{original}\nThe steering group reviewed this page {extra}.\n", "utf-8")
        try:
            started = time.perf_counter()
            if label == "seconds":
                counts = ingest(settings).counts()
            else:
                subprocess.run(cli, env=env, check=True, capture_output=True, timeout=600)
            timings[label] = round(time.perf_counter() - started, 2)
        finally:
            path.write_text(original, encoding="utf-8")
            ingest(settings)  # the corpus as generated again, for the sections after this one
    return {**timings, "counts": counts}


def bench_query(settings: Settings, requests: int, warmup: int) -> dict[str, Any]:
    """Warm Advisor.ask against the raw floor on the big index, interleaved."""
    from advisor import Advisor

    advisor = Advisor(settings)
    started = time.perf_counter()
    advisor.warm()
    warm_s = time.perf_counter() - started
    snapshot = advisor.searcher.snapshot
    store, embed = snapshot.store, advisor.embedder.embed_query
    k = settings.k_dense
    calls = {
        "floor": lambda q: store._collection.query(
            query_embeddings=[embed(q)], n_results=k, include=["distances"]
        ),
        "ask": advisor.ask,
    }
    stats = timed(calls, questions(), requests, warmup)
    advisor.close()
    return {**stats, "warm_s": round(warm_s, 1), "passages": len(snapshot.passages)}


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (Linux ``VmHWM``), in MiB: warm-up included."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def bench_server(settings: Settings, label: str, asks: int) -> dict[str, Any]:
    """Cold start to a first answer; then a server that answers ``asks`` questions, and its
    peak RSS from spawn to the last answer."""
    import httpx

    with tempfile.TemporaryDirectory(prefix=f"advisor-{label}-") as tmp:
        env = {
            **server_env(settings.data_dir, f"sqlite:///{tmp}/conv.db"),
            "ADVISOR_CORPUS_DIR": str(settings.corpus_dir),
        }
        cold = bench_cold_start(env, LOAD_KEY, [])
        headers = {"Authorization": f"Bearer {LOAD_KEY}"}
        with (
            advisor_server(env) as server,
            httpx.Client(base_url=server.url, headers=headers, timeout=120) as client,
        ):
            for question in questions()[:asks]:
                client.post("/v1/ask", json={"question": question}).raise_for_status()
            peak = peak_rss_mb(server.process.pid)
    return {**cold, "peak_rss_mb": peak}


def table(r: dict[str, Any]) -> list[str]:
    """The figures against the targets, one line each."""
    lines = []

    def add(name: str, value: str, target: str, ok: bool | None) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "MISS")
        lines.append(f"{name:44} {value:>22} {target:>14} {verdict}")

    if "ingest" in r:
        i = r["ingest"]
        add("full ingest", f"{i['seconds']} s, {i['passages']} passages", "", None)
        add("  passages per second", str(i["passages_per_s"]), "", None)
    if "reingest" in r:
        seconds = r["reingest"]["seconds"]
        limit = f"<= {TARGET_REINGEST_S:g} s"
        ok = seconds <= TARGET_REINGEST_S
        add("re-ingest after one changed document", f"{seconds} s", limit, ok)
        if "process_seconds" in r["reingest"]:
            add("  as a fresh `advisor ingest` process", f"{r['reingest']['process_seconds']} s",
                "", None)  # fmt: skip
    if "query" in r:
        q = r["query"]
        x = q["ask"]["p50_ms"] / q["floor"]["p50_ms"]
        add("floor p50 / p95 (embed + raw Chroma query)",
            f"{q['floor']['p50_ms']} / {q['floor']['p95_ms']} ms", "", None)  # fmt: skip
        add("warm Advisor.ask p50 / p95", f"{q['ask']['p50_ms']} / {q['ask']['p95_ms']} ms",
            "", None)  # fmt: skip
        add("  p50 over the floor's", f"{x:.2f} x", f"<= {TARGET_QUERY_X:g} x", x <= TARGET_QUERY_X)
        add("  warm-up (Advisor.warm)", f"{q['warm_s']} s", "", None)
    if "server" in r:
        big, small = r["server"]["scale"], r["server"]["shipped"]
        x = big["first_answer_s"] / small["first_answer_s"]
        add("cold start to first answer (scale)", f"{big['first_answer_s']} s", "", None)
        add("cold start to first answer (85 passages)", f"{small['first_answer_s']} s", "", None)
        add("  scale over shipped", f"{x:.2f} x", f"<= {TARGET_COLD_X:g} x", x <= TARGET_COLD_X)
        add("server peak RSS (scale)", f"{big['peak_rss_mb']} MiB", f"<= {TARGET_RSS_MB} MiB",
            big["peak_rss_mb"] <= TARGET_RSS_MB)  # fmt: skip
        add("server peak RSS (85 passages)", f"{small['peak_rss_mb']} MiB", "", None)
    return lines


@click.command()
@click.option("--bench-dir", type=click.Path(path_type=Path), default=DEFAULT_DIR,
              show_default=True, help="Where `make bench-corpus` wrote the corpus.")  # fmt: skip
@click.option("--sections", default=",".join(SECTIONS), show_default=True)
@click.option("--requests", default=60, show_default=True, help="Timed questions per call.")
@click.option("--warmup", default=10, show_default=True, help="Untimed questions first.")
def main(bench_dir: Path, sections: str, requests: int, warmup: int) -> None:
    """Measure the advisor on the benchmark corpus and print it against the targets."""
    chosen = {s.strip() for s in sections.split(",") if s.strip()}
    if chosen - set(SECTIONS):
        raise click.BadParameter(f"sections are {', '.join(SECTIONS)}")
    if not (bench_dir / "corpus").is_dir():
        raise click.ClickException(f"no benchmark corpus in {bench_dir}: run make bench-corpus")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = settings_for(bench_dir)
    out = bench_dir / "bench-scale.json"
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    results["machine"] = machine()

    def save(name: str, value: Any) -> None:
        results[name] = value
        out.write_text(json.dumps(results, indent=1), encoding="utf-8")
        click.echo(f"{name}: {json.dumps(value)}", err=True)

    if "ingest" in chosen:
        import shutil

        shutil.rmtree(settings.data_dir, ignore_errors=True)
        save("ingest", bench_ingest(settings))
    if "reingest" in chosen:
        save("reingest", bench_reingest(settings))
    if "query" in chosen:
        save("query", bench_query(settings, requests, warmup))
    if "server" in chosen:
        from advisor import PROJECT_ROOT

        shipped = Settings(data_dir=PROJECT_ROOT / ".advisor", chroma_url=None)
        save("server", {"scale": bench_server(settings, "scale", warmup),
                        "shipped": bench_server(shipped, "shipped", warmup)})  # fmt: skip
    click.echo("\n".join(table(results)))
    click.echo(f"(written to {out})")


if __name__ == "__main__":
    main()
