"""Traces of each turn, exported over OTLP/gRPC to a real receiver on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from advisor import tracing
from advisor.config import Settings
from advisor.facade import Advisor


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """An OTLP trace receiver: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.services: set[str] = set()
        self.lock = threading.Lock()

    def Export(self, request: Any, context: Any) -> Any:  # the gRPC method's own name
        with self.lock:
            for resource in request.resource_spans:
                for attr in resource.resource.attributes:
                    if attr.key == "service.name":
                        self.services.add(attr.value.string_value)
                for scope in resource.scope_spans:
                    self.spans += list(scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()


@pytest.fixture
def collector() -> Iterator[tuple[Collector, str]]:
    received = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(received, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield received, f"http://127.0.0.1:{port}"
    server.stop(grace=None)


def _attrs(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        value = a.value
        out[a.key] = getattr(value, value.WhichOneof("value"))
    return out


def test_a_turn_is_traced_step_by_step(
    settings: Settings, embedder: Any, collector: tuple[Collector, str]
) -> None:
    received, endpoint = collector
    traced = settings.model_copy(update={"otlp_endpoint": endpoint, "otel_service_name": "t1"})
    advisor = Advisor(traced, embedder=embedder)
    answer = advisor.ask("Who should own the CRM project?")
    list(advisor.stream("thanks!", answer.conversation_id))  # small talk: a turn, no search
    assert tracing.flush(traced)
    turns = [s for s in received.spans if s.name == "advisor.turn"]
    assert len(turns) == 2 and received.services == {"t1"}
    first = next(t for t in turns if _attrs(t)["advisor.turn"] == 1)
    attrs = _attrs(first)
    assert attrs["advisor.answered"] is True and attrs["advisor.conversation_id"]
    assert attrs["advisor.citations"] == len(answer.citations) and "question" not in attrs
    steps = [s for s in received.spans if s.parent_span_id == first.span_id]
    assert [s.name for s in sorted(steps, key=lambda s: s.start_time_unix_nano)] == [
        "advisor.condense", "advisor.retrieve", "advisor.compose", "advisor.store"
    ]  # fmt: skip
    for step in steps:
        assert step.trace_id == first.trace_id
        assert first.start_time_unix_nano <= step.start_time_unix_nano
        assert step.start_time_unix_nano <= step.end_time_unix_nano <= first.end_time_unix_nano
    total_ms = (first.end_time_unix_nano - first.start_time_unix_nano) / 1e6
    assert abs(total_ms - answer.timings["total"] * 1000) < 50


def test_nothing_is_traced_without_an_endpoint(settings: Settings, embedder: Any) -> None:
    tracing.provider.cache_clear()
    Advisor(settings, embedder=embedder).ask("Who should own the CRM project?")
    assert tracing.provider.cache_info().currsize == 0 and tracing.flush(settings)


@pytest.mark.parametrize("bad", ["collector:4317", "http://a b:1", "ftp://x:21"])
def test_a_bad_endpoint_is_a_settings_error(bad: str) -> None:
    with pytest.raises(ValueError, match="otlp_endpoint"):
        Settings(otlp_endpoint=bad)
