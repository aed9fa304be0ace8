"""The harness that evals, benchmarks and tests share: servers, ports, percentiles, memory.

``advisor_server`` starts a real ``advisor serve`` on a free loopback port and waits for
``/readyz``; ``MemorySampler`` samples its resident memory in a thread; ``percentiles``
summarises latencies. Nothing here measures the advisor's quality: that is ``evals.run``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import click
import httpx
import psutil

from evals.run import load_golden


def questions() -> list[str]:
    """Every single-turn golden question, and the first turn of each conversation."""
    return [c["question"] if "question" in c else c["turns"][0]["question"] for c in load_golden()]


def percentiles(samples: list[float]) -> dict[str, Any]:
    """p50, p95, p99 and mean of samples in seconds, as milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "n": len(samples),
        "p50_ms": round(cuts[49] * 1000, 2),
        "p95_ms": round(cuts[94] * 1000, 2),
        "p99_ms": round(cuts[98] * 1000, 2),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
    }


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Ask a child process to stop; kill it if it has not within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Server:
    """A running `advisor serve` process."""

    url: str
    process: subprocess.Popen[bytes]

    def rss_mb(self) -> float:
        """The server's resident memory in MB."""
        return float(psutil.Process(self.process.pid).memory_info().rss) / 2**20


@contextmanager
def advisor_server(
    env: dict[str, str] | None = None,
    ready_within: float = 180.0,
    args: Sequence[str] = (),
) -> Iterator[Server]:
    """Start `advisor serve` with extra environment, wait until /readyz is 200, stop it after."""
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    cmd = [sys.executable, "-m", "advisor.cli", "serve", "--port", str(port), *args]
    process = subprocess.Popen([*cmd, "--log-level", "warning"], env=full_env)
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + ready_within
        with httpx.Client(base_url=server.url, timeout=10) as client:
            while True:
                if process.poll() is not None:
                    raise click.ClickException("advisor serve exited; is the index built?")
                if time.monotonic() > deadline:
                    raise click.ClickException(f"advisor serve not ready in {ready_within:.0f} s")
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        yield server
    finally:
        stop_process(process, timeout=30)


class Sampled(Protocol):
    """Anything whose resident memory can be read: a server, or a process tree."""

    def rss_mb(self) -> float: ...


@dataclass
class ProcessTree:
    """A process and its children, as MemorySampler sees a server (it calls rss_mb only)."""

    process: subprocess.Popen[bytes]

    def rss_mb(self) -> float:
        """Resident MiB of the process and its children (`serve --workers N` has some)."""
        root = psutil.Process(self.process.pid)
        total = 0
        for proc in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):  # a child that has just exited
                total += proc.memory_info().rss
        return total / 2**20


class MemorySampler:
    """Samples a process's resident memory every few seconds, in a thread."""

    def __init__(self, server: Sampled, every: float) -> None:
        self.server, self.every = server, every
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic() - self._started, self.server.rss_mb()))

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic() - self._started, self.server.rss_mb()))
            self._stop.wait(self.every)

    def report(self, warmup: float) -> dict[str, Any]:
        """RSS after warm-up, at the end, at most; growth overall and over the second half."""
        settled = [(t, mb) for t, mb in self.samples if t >= warmup] or self.samples
        first, last = settled[0][1], settled[-1][1]
        half = [mb for t, mb in settled if t >= (settled[0][0] + settled[-1][0]) / 2]
        return {
            "rss_start_mb": round(self.samples[0][1], 1),
            "rss_after_warmup_mb": round(first, 1),
            "rss_end_mb": round(last, 1),
            "rss_max_mb": round(max(mb for _, mb in self.samples), 1),
            "rss_growth_mb": round(last - first, 1),
            "rss_growth_second_half_mb": round(half[-1] - half[0], 1) if half else 0.0,
            "samples": len(self.samples),
        }
