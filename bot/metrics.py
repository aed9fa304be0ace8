"""Prometheus metrics for operators, at ``GET /metrics``, with ``prometheus_client``.

- ``advisor_http_requests_total{route,method,status}`` and
  ``advisor_http_request_duration_seconds{route,method}``: every request, by its route
  template (``/v1/conversations/{conversation_id}``, not the id: bounded label values),
  ``unmatched`` for paths no route has;
- ``advisor_turns_total{outcome}``: answered, refused, small_talk, noise, other_language;
- ``advisor_llm_total{event}``: LLM requests, fallbacks by reason and the guard's work
  (sentences checked and removed), when an LLM is configured;
- ``advisor_slack_events_total{kind}`` and ``advisor_slack_retries_deduplicated_total{kind}``:
  Slack events (and shortcuts) answered, and Slack's retries of them answered only once;
- ``advisor_index_passages`` and ``advisor_index_info{generation}``: the serving index;
- ``advisor_embedding_passes_total`` and ``advisor_embedding_texts_total``: forward passes
  of the embedding model and the texts in them (their ratio is the mean batch size).

The core's counters are read at scrape time (``Advisor.stats``); nothing is pushed. Each
app has its own registry, so several apps in one process (tests) do not collide.

With several worker processes (``advisor serve --workers N`` sets
``PROMETHEUS_MULTIPROC_DIR``), a scrape reaches one worker but reports them all:
``prometheus_client``'s multiprocess mode keeps every instrument in per-process files in
that folder and sums them at scrape time. The core's counters are then mirrored into such
instruments (``_Mirror``) after every request and every ``MIRROR_EVERY_S``, as deltas, so
a worker's Slack turns answered in the background are counted too.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advisor import Advisor, AdvisorError
from bot.middleware import bearer_token
from bot.problems import problem
from bot.state import SharedState

log = logging.getLogger("advisor.http")
PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's switch to multiprocess mode
MIRROR_EVERY_S = 2.0
# Seconds: a warm answer takes tens of milliseconds, a cold one or an LLM's several seconds.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One app's registry: the HTTP instruments, and a collector over the advisor's state.

    In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set before ``prometheus_client`` was
    imported) the instruments write to that folder and the registry reads every process's
    files; otherwise the registry holds this process's instruments and reads the core live.
    """

    def __init__(self, advisor: Advisor, shared: SharedState | None = None) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        own = None if self.multiprocess else self.registry  # files, not this registry
        self.requests = Counter(
            "advisor_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=own,
        )  # fmt: skip
        self.latency = Histogram(
            "advisor_http_request_duration_seconds", "HTTP request time to the last byte.",
            ["route", "method"], buckets=BUCKETS, registry=own,
        )  # fmt: skip
        collector = _AdvisorCollector(advisor, shared)
        self.mirror: _Mirror | None = None
        if self.multiprocess:
            MultiProcessCollector(self.registry)
            self.mirror = _Mirror(collector)
            self.mirror.start()
        else:
            self.registry.register(collector)

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        if self.mirror is not None:
            self.mirror.sync()  # this worker's latest, before every worker's files are read
        return generate_latest(self.registry)


class _Mirror:
    """Copies the core's scrape-time families into multiprocess instruments, as deltas for
    counters and values for gauges (latest write wins: ``mostrecent``), so that every
    worker's counts reach the shared folder. A gauge's label set no longer reported (an
    old index generation) is set to 0."""

    def __init__(self, collector: _AdvisorCollector) -> None:
        self.collector = collector
        self.lock = threading.Lock()
        self.instruments: dict[str, Counter | Gauge] = {}
        self.seen: dict[tuple[str, tuple[str, ...]], float] = {}

    def start(self) -> None:
        """Sync every ``MIRROR_EVERY_S`` in a daemon thread, for work done after a reply."""

        def loop() -> None:
            while True:
                time.sleep(MIRROR_EVERY_S)
                try:
                    self.sync()
                except Exception:  # a bad sync must not end the thread
                    log.exception("mirroring the advisor's counters for /metrics failed")

        threading.Thread(target=loop, name="metrics-mirror", daemon=True).start()

    def sync(self) -> None:
        """Write what changed since the last sync."""
        with self.lock:
            for family in self.collector.collect():
                self._write(family)

    def _write(self, family: Metric) -> None:
        names = tuple(getattr(family, "_labelnames", ()))
        instrument = self.instruments.get(family.name)
        if instrument is None:
            kind = Counter if family.type == "counter" else Gauge
            extra = {} if kind is Counter else {"multiprocess_mode": "mostrecent"}
            instrument = kind(family.name, family.documentation, names, registry=None, **extra)
            self.instruments[family.name] = instrument
        reported = set()
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            values = tuple(sample.labels[n] for n in names)
            reported.add(values)
            child = instrument.labels(*values) if names else instrument
            before = self.seen.get((family.name, values), 0.0)
            if isinstance(child, Counter):
                if sample.value > before:  # a core counter never goes back
                    child.inc(sample.value - before)
            else:
                child.set(sample.value)
            self.seen[family.name, values] = sample.value
        if isinstance(instrument, Gauge):
            for name, values in list(self.seen):
                if name == family.name and values not in reported:
                    (instrument.labels(*values) if names else instrument).set(0)
                    del self.seen[name, values]


class _AdvisorCollector:
    """Reads the core's counters at scrape time, so the core knows nothing of Prometheus."""

    def __init__(self, advisor: Advisor, shared: SharedState | None) -> None:
        self.advisor, self.shared = advisor, shared

    def describe(self) -> list[Metric]:
        return []  # only known at scrape time; an empty list keeps registration lazy

    def collect(self) -> Iterator[Metric]:
        try:
            stats: dict[str, Any] = self.advisor.stats() if self.advisor.loaded else {}
        except AdvisorError:  # a misconfigured LLM, say: the scrape still answers
            stats = {}
        turns = CounterMetricFamily("advisor_turns", "Turns given, by outcome.", labels=["outcome"])
        for outcome, n in sorted(stats.get("answers", {}).items()):
            turns.add_metric([outcome], n)
        yield turns
        llm = CounterMetricFamily(
            "advisor_llm", "LLM requests, fallbacks by reason and the guard's work.",
            labels=["event"],
        )  # fmt: skip
        for event, n in sorted(stats.items()):
            if isinstance(n, int) and not isinstance(n, bool) and stats.get("llm"):
                llm.add_metric([event], n)
        yield llm
        embedder = stats.get("embedder", {})
        for name, text in (("passes", "Forward passes"), ("texts", "Texts embedded")):
            family = CounterMetricFamily(f"advisor_embedding_{name}", f"{text} of the model.")
            family.add_metric([], embedder.get(name, 0))
            yield family
        yield from self._slack()
        yield from self._index()

    def _slack(self) -> Iterator[Metric]:
        claimed = dict(self.shared.claimed) if self.shared else {}
        duplicates = dict(self.shared.duplicates) if self.shared else {}
        for name, counts, text in (
            ("advisor_slack_events", claimed, "Slack events and shortcuts answered."),
            ("advisor_slack_retries_deduplicated", duplicates, "Slack retries answered once."),
        ):
            family = CounterMetricFamily(name, text, labels=["kind"])
            for kind, n in sorted(counts.items()):
                if kind.startswith("slack-"):
                    family.add_metric([kind.removeprefix("slack-")], n)
            yield family

    def _index(self) -> Iterator[Metric]:
        passages = GaugeMetricFamily("advisor_index_passages", "Passages in the serving index.")
        info = GaugeMetricFamily(
            "advisor_index_info", "The serving index generation (value 1).", labels=["generation"]
        )
        snapshot = self.advisor.snapshot  # as loaded: a scrape never loads or reloads one
        if snapshot is not None:
            passages.add_metric([], len(snapshot.passages))
            info.add_metric([snapshot.generation], 1)
        yield passages
        yield info


class MetricsMiddleware:
    """Times and counts every HTTP request by its route template (pure ASGI)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.requests.labels(route, method, str(status)).inc()
            self.metrics.latency.labels(route, method).observe(time.perf_counter() - started)
            if self.metrics.mirror is not None:
                self.metrics.mirror.sync()


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def endpoint(metrics: Metrics, key: str | None) -> Any:
    """The ``/metrics`` handler: open, or behind ``Authorization: Bearer <key>``."""

    def scrape(request: Request) -> Response:
        if key:
            given = bearer_token(request.headers.get("authorization", ""))
            if not hmac.compare_digest(given.encode(), key.encode()):
                slug = "invalid-metrics-key" if given else "missing-metrics-key"
                detail = "send ADVISOR_METRICS_KEY as: Authorization: Bearer <key>"
                return problem(slug, detail, instance=PATH, headers={"WWW-Authenticate": "Bearer"})
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return scrape
