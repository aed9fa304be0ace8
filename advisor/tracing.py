"""Optional OpenTelemetry traces of each turn: one ``advisor.turn`` span, a child per step.

Off unless ``ADVISOR_OTLP_ENDPOINT`` names an OTLP/gRPC collector; then the OpenTelemetry
SDK batches the spans and exports them there (``BatchSpanProcessor``, ``OTLPSpanExporter``).
The steps are ``condense``, ``retrieve``, ``write`` (an LLM's answer, guard included) or
``compose`` (the extractive answer), and ``store``.

The spans are made when the turn ends, from the start and end that each step measured
(``time.perf_counter``, mapped onto the wall clock), not opened around the steps: a
streamed answer's steps run across ``yield``s, on whichever thread reads the stream, so
contexts opened there would leak between requests. Attributes describe the turn
(intent, question type, answered, generator, citations, conversation and turn), never the
question's text.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from advisor.config import Settings
from advisor.contract import Answer

Step = tuple[str, float, float]  # (name, start, end) in time.perf_counter() seconds


@lru_cache(maxsize=4)
def provider(endpoint: str, service: str) -> Any:
    """The SDK's tracer provider exporting to ``endpoint``, one per endpoint and service."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    made = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=endpoint.startswith("http://"))
    made.add_span_processor(BatchSpanProcessor(exporter))
    return made


def record_turn(settings: Settings, answer: Answer, started: float, steps: list[Step]) -> None:
    """Export the turn's span and its steps' spans, if tracing is on; never raises."""
    if not settings.otlp_endpoint:
        return
    from opentelemetry import trace

    def wall_ns(seconds: float) -> int:
        return time.time_ns() - int((time.perf_counter() - seconds) * 1e9)

    ended = time.perf_counter()
    try:
        spans = provider(settings.otlp_endpoint, settings.otel_service_name).get_tracer("advisor")
        turn = spans.start_span("advisor.turn", start_time=wall_ns(started))
        turn.set_attributes(_attributes(answer))
        inside = trace.set_span_in_context(turn)
        for name, begin, end in steps:
            spans.start_span(f"advisor.{name}", inside, start_time=wall_ns(begin)).end(wall_ns(end))
        turn.end(wall_ns(ended))
    except Exception:  # a tracing fault must never cost the manager an answer
        return


def flush(settings: Settings, timeout_ms: int = 10_000) -> bool:
    """Export the spans batched so far now; True when done (or tracing is off)."""
    if not settings.otlp_endpoint:
        return True
    made = provider(settings.otlp_endpoint, settings.otel_service_name)
    return bool(made.force_flush(timeout_ms))


def _attributes(answer: Answer) -> dict[str, Any]:
    return {
        "advisor.conversation_id": answer.conversation_id,
        "advisor.turn": answer.turn,
        "advisor.intent": answer.intent,
        "advisor.question_type": answer.question_type,
        "advisor.answered": answer.answered,
        "advisor.generator": answer.generator,
        "advisor.citations": len(answer.citations),
    }
