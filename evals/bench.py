"""Benchmark against the floor: latency, ingest, cold start, throughput and memory.

The floor is what no answer can beat: one bare call of the embedding model and one raw Chroma
query. Every section runs once per embedder (ONNX Runtime and PyTorch, issue 24), one after
the other in the same run, so their ratios are fair. `make bench` (`python -m evals.bench`)
prints one table and writes reports/bench.json. The targets in ``evals/bench_report.py``
only fill the table's PASS/MISS column: speed targets live there, never in the test suite.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import httpx

from advisor import Settings
from evals.bench_doors import door_calls
from evals.bench_report import compare, machine, print_table, table, targets
from evals.harness import MemorySampler, ProcessTree, advisor_server, percentiles, questions
from evals.load import LOAD_KEY, drive, server_env

EMBEDDERS = ("onnx", "torch")
SECTIONS = ("floor", "ask", "review", "ingest", "cold", "http", "throughput")


def timed(
    calls: dict[str, Callable[[Any], object]], pool: list[Any], requests: int, warmup: int
) -> dict[str, dict[str, Any]]:
    """Percentiles of each call over the pool after untimed warm-up, calls interleaved."""
    # Interleaved, so other work on the machine slows every call alike and the ratios to
    # the floor stay fair while the absolute figures drift; in turns, since a call that
    # follows another may find torch's threads still awake, and that gain should rotate.
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(warmup + requests):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            started = time.perf_counter()
            calls[name](pool[i % len(pool)])
            if i >= warmup:
                samples[name].append(time.perf_counter() - started)
    return {name: percentiles(s) for name, s in samples.items()}


def bench_in_process(advisor: Any, sections: set[str], requests: int, warmup: int) -> dict:
    """The floor (raw, and through LangChain) and Advisor.ask, on the same questions."""
    store = advisor.searcher.snapshot.store  # the serving generation's collection
    k = min(advisor.settings.k_dense, len(advisor.searcher.snapshot.passages))
    embed = advisor.embedder.embed_query  # the advisor's own model, lock and all
    # The model call alone, as the library's quick start makes it: sentence-transformers'
    # encode, or one ONNX Runtime session run with the tokenizer and mean pooling.
    bare = advisor.embedder._run
    calls: dict[str, Callable[[Any], object]] = {}
    if "floor" in sections:
        # The honest minimum is the raw collection query for ids and distances: all that
        # dense retrieval uses. LangChain's wrapper, which retrieval calls, also fetches
        # texts and metadata and builds Documents; it is timed beside it to show that cost.
        calls["floor"] = lambda q: store._collection.query(
            query_embeddings=[bare([q])[0].tolist()], n_results=k, include=["distances"]
        )
        calls["embed_bare"] = lambda q: bare([q])
        calls["embed"] = embed
        calls["floor_langchain"] = lambda q: (
            store.similarity_search_by_vector_with_relevance_scores(bare([q])[0].tolist(), k=k)
        )
    if "ask" in sections:
        calls["in_process"] = advisor.ask
    return timed(calls, questions(), requests, warmup) if calls else {}


def bench_review(advisor: Any, requests: int, warmup: int) -> dict[str, Any]:
    """Time Advisor.review in this process: the labelled plans, and one plan of 3,000 words."""
    from evals.review import PLANS_DIR, SETS, load_labelled

    plans = [p["plan"] for name in SETS for p in load_labelled(PLANS_DIR / name)]
    # A plan's sentences are embedded afresh on every review (the classifier does not cache
    # user text), so a repeated plan costs what a new one does.
    stats = timed({"review": advisor.review}, plans, requests, warmup)["review"]
    long_plan, words = [], 0
    for plan in plans:  # the labelled plans, end to end, as one long document
        long_plan.append(plan)
        words += len(plan.split())
        if words >= 3000:
            break
    long = timed({"long": advisor.review}, ["\n\n".join(long_plan)], 5, 1)["long"]
    return {**stats, "plans": len(plans), "long_plan_words": words, "long_plan": long}


def bench_ingest(outer: Settings) -> dict[str, Any]:
    """A full ingest into a fresh data dir, then one with nothing changed, in seconds."""
    from advisor import ingest

    with tempfile.TemporaryDirectory(prefix="advisor-bench-") as tmp:
        # Local files even with ADVISOR_CHROMA_URL set: a full ingest into the shared
        # server would put a new generation under the servers reading it.
        # The built models (ONNX export, plan-review classifier) are the outer data's:
        # a fresh data folder would otherwise time an export, which is install-time work.
        settings = outer.model_copy(
            update={"data_dir": Path(tmp), "chroma_url": None, "review_model_dir": outer.models_dir}
        )
        started = time.perf_counter()
        # It loads its own model, which counts, as in `advisor ingest`; the Python imports
        # (torch, Chroma) were done by the sections before and do not.
        full = ingest(settings)
        full_s = time.perf_counter() - started
        same = ingest(settings)  # embeds nothing, so it never loads the model
        same_s = time.perf_counter() - started - full_s
    seconds = {"full_s": round(full_s, 3), "unchanged_s": round(same_s, 3)}
    return {**seconds, "full": full.counts(), "unchanged": same.counts()}


def bench_cold_start(env: dict[str, str], key: str, args: list[str]) -> dict[str, Any]:
    """Spawn `advisor serve` on the built index; seconds to /readyz and to a first answer."""
    question, headers = questions()[0], {"Authorization": f"Bearer {key}"}
    started = time.perf_counter()
    # advisor_server polls /readyz every 0.1 s, so both figures are good to about 0.1 s.
    with (
        advisor_server(env, args=args) as server,
        httpx.Client(base_url=server.url, headers=headers, timeout=60) as client,
    ):
        ready_s = time.perf_counter() - started
        # Asked until answered: with several workers, the one that said ready may not be
        # the one that takes the question.
        while True:
            response = client.post("/v1/ask", json={"question": question})
            if response.status_code == 200 and response.json()["answer"]:
                break
            if response.status_code != 503 or time.perf_counter() - started > 180:
                response.raise_for_status()
                raise click.ClickException(f"no answer at cold start: {response.text[:200]}")
            time.sleep(0.05)
        first_s = time.perf_counter() - started
    return {"ready_s": round(ready_s, 3), "first_answer_s": round(first_s, 3)}


def bench_server(env: dict[str, str], key: str, sections: set[str], opts: dict) -> dict:
    """One `advisor serve`: sequential latency of /v1/ask, /v1/chat/completions and the MCP
    tool (``openai``, ``mcp``), throughput per client count, peak RSS."""
    out: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {key}"}
    served: list[tuple[bool, float]] = []  # (answered, the server's own `total` in ms)
    with (
        advisor_server(env, args=opts["args"]) as server,
        MemorySampler(ProcessTree(server.process), every=0.25) as memory,
        httpx.Client(base_url=server.url, headers=headers, timeout=60) as client,
    ):

        def ask(question: str) -> None:
            response = client.post("/v1/ask", json={"question": question}).raise_for_status()
            total = re.search(r"\btotal;dur=([\d.]+)", response.headers.get("server-timing", ""))
            served.append((response.json()["answered"], float(total[1]) if total else math.nan))

        warmup = opts["warmup"]
        if "http" in sections:
            # The OpenAI-compatible and MCP doors take the same questions, interleaved.
            with door_calls(server.url, key) as doors:
                timings = timed({"http": ask, **doors}, questions(), opts["requests"], warmup)
            stats = timings.pop("http")
            answered, totals = zip(*served[warmup:], strict=True)
            # What the HTTP p50 has over the server's own total is transport and the app.
            stats.update(answered=sum(answered), server_total_p50_ms=statistics.median(totals))
            out.update(http=stats, **timings)
        else:
            for question in questions()[:warmup]:
                ask(question)  # throughput starts on a warm server either way
        if "throughput" in sections:
            levels = {str(n): drive(server.url, n, opts["load"], key=key) for n in opts["clients"]}
            out["throughput"] = {n: result.summary() for n, result in levels.items()}
    out["server_memory"] = memory.report(0.0)
    return out


def bench_advisor(
    settings: Settings, sections: set[str], requests: int, warmup: int, setup: dict[str, Any]
) -> dict[str, Any]:
    """The in-process sections (floor, ask, review) on a warmed Advisor; fills ``setup``."""
    from advisor import Advisor

    advisor = Advisor(settings)
    advisor.warm()
    torch = settings.embedder == "torch" and sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    setup.update(
        backend=settings.embedder,
        embedder=advisor.embedder.name,
        index=advisor.generation,
        torch_threads=threads,
        onnx_threads=settings.onnx_threads if settings.embedder.startswith("onnx") else None,
    )
    results = bench_in_process(advisor, sections, requests, warmup)
    if "review" in sections:
        results["review"] = bench_review(advisor, requests, warmup)
    advisor.close()
    # ru_maxrss is this process's high-water mark in KiB, read before the ingest's model.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    results["bench_memory"] = {"rss_max_mb": round(peak, 1)}
    return results


def bench_embedder(
    name: str, settings: Settings, database_url: str, sections: set[str], opts: dict[str, Any]
) -> dict[str, Any]:
    """Every section with one embedder (``ADVISOR_EMBEDDER=name``) in this process and its
    servers; the in-process figures include this process's peak RSS so far."""
    settings = settings.model_copy(update={"embedder": name})
    run: dict[str, Any] = {"setup": {}}
    if sections & {"floor", "ask", "review"}:
        in_process = settings.model_copy(update={"database_url": database_url})
        run.update(
            bench_advisor(in_process, sections, opts["requests"], opts["warmup"], run["setup"])
        )
    if "ingest" in sections:
        run["ingest"] = bench_ingest(settings)
    # The servers start from the caller's environment, so ADVISOR_CHROMA_URL and the like
    # carry through; one key, and no rate limit since that one key sends everything.
    env = {**server_env(database_url=database_url), "ADVISOR_EMBEDDER": name}
    if "cold" in sections:
        run["cold_start"] = bench_cold_start(env, LOAD_KEY, opts["args"])
    if sections & {"http", "throughput"}:
        run.update(bench_server(env, LOAD_KEY, sections, opts))
    return run


@click.command(context_settings={"show_default": True})
@click.option("--requests", default=200, type=click.IntRange(min=2), help="Samples per mode.")
@click.option("--warmup", default=10, type=click.IntRange(min=0), help="Untimed calls first.")
@click.option("--throughput-requests", "load", default=300, help="Requests per level.")
@click.option("--clients", default="1,8,32", help="Concurrent clients of each throughput run.")
@click.option("--workers", default=1, type=click.IntRange(1, 16), help="`serve --workers`.")
@click.option("--embedders", default=",".join(EMBEDDERS), help="Embedders to run, in order.")
@click.option("--skip", multiple=True, type=click.Choice(SECTIONS), help="Leave a section out.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("reports/bench.json"))
def main(
    requests: int,
    warmup: int,
    load: int,
    clients: str,
    workers: int,
    embedders: str,
    skip: tuple[str, ...],
    out: Path,
) -> None:
    """Print the benchmark table, and write it with every figure as JSON."""

    if not re.fullmatch(r"[1-9]\d*(,[1-9]\d*)*", clients):
        raise click.BadParameter("client counts like 1,8,32", param_hint="--clients")
    names = embedders.split(",")
    if not names or any(n not in EMBEDDERS for n in names) or len(set(names)) < len(names):
        raise click.BadParameter(f"a list of {', '.join(EMBEDDERS)}", param_hint="--embedders")
    sections = set(SECTIONS) - set(skip)
    results: dict[str, Any] = {"machine": machine()}
    settings = Settings()
    # A scratch conversation store unless the caller names one (PostgreSQL for the
    # scale-out setup), so bench turns never fill the real store and runs start alike.
    database_url = os.environ.get("ADVISOR_DATABASE_URL")
    if not database_url:
        scratch = settings.data_dir / "bench.db"
        scratch.unlink(missing_ok=True)
        database_url = f"sqlite:///{scratch.resolve()}"
    results["setup"] = {
        "advisor_env": sorted(k for k in os.environ if k.startswith("ADVISOR_")),  # names only
        "database": database_url.split(":", 1)[0],
        "workers": workers,
    }
    opts = {
        "requests": requests,
        "warmup": warmup,
        "load": load,
        "clients": [int(n) for n in clients.split(",")],
        "args": ["--workers", str(workers)],
    }
    results["runs"] = {n: bench_embedder(n, settings, database_url, sections, opts) for n in names}
    results["compare"] = compare(results["runs"])
    results["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    results["targets"] = targets()
    results["table"] = rows = table(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    print_table(rows, results["machine"], out)


if __name__ == "__main__":
    main()
