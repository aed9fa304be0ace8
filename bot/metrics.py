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
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from advisor import Advisor, AdvisorError
from bot.problems import problem
from bot.state import SharedState

PATH = "/metrics"
# Seconds: a warm answer takes tens of milliseconds, a cold one or an LLM's several seconds.
BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """One app's registry: the HTTP instruments, and a collector over the advisor's state."""

    def __init__(self, advisor: Advisor, shared: SharedState | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "advisor_http_requests", "HTTP requests by route template, method and status.",
            ["route", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "advisor_http_request_duration_seconds", "HTTP request time to the last byte.",
            ["route", "method"], buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.registry.register(_AdvisorCollector(advisor, shared))

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)


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


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def endpoint(metrics: Metrics, key: str | None) -> Any:
    """The ``/metrics`` handler: open, or behind ``Authorization: Bearer <key>``."""

    def scrape(request: Request) -> Response:
        if key:
            given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(given.encode(), key.encode()):
                slug = "invalid-metrics-key" if given else "missing-metrics-key"
                detail = "send ADVISOR_METRICS_KEY as: Authorization: Bearer <key>"
                return problem(slug, detail, instance=PATH, headers={"WWW-Authenticate": "Bearer"})
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return scrape
