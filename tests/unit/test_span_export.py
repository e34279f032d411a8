"""The export processor never makes a request wait, and counts every span it gives up on."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from minishop.observability.export import BoundedExportProcessor
from minishop.observability.metrics import ServiceMetrics


class StuckExporter(SpanExporter):
    """A collector that accepts the connection and never answers, until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(10)
        self.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def _value(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, {"service": "t", **labels}) or 0.0


def test_a_stuck_exporter_costs_spans_not_requests() -> None:
    metrics = ServiceMetrics("t")
    exporter = StuckExporter()
    processor = BoundedExportProcessor(
        exporter,
        exported=metrics.spans_exported,
        dropped=metrics.spans_dropped,
        service="t",
        max_queue_size=10,
        max_batch_size=5,
        schedule_delay_ms=10,
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("t")
    for _ in range(5):
        tracer.start_span("first").end()
    assert exporter.entered.wait(5)  # the worker now hangs inside export
    for _ in range(25):  # would block a request if on_end waited for the exporter
        tracer.start_span("more").end()
    assert processor.queue_size == 10
    assert _value(metrics, "otel_spans_dropped_total", reason="queue_full") == 15
    assert processor.force_flush(timeout_millis=100) is False  # bounded, even when stuck
    exporter.release.set()
    assert processor.force_flush(timeout_millis=5000) is True
    assert exporter.exported == 15
    assert _value(metrics, "otel_spans_exported_total") == 15
    provider.shutdown()


class FailingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        return None


def test_failed_exports_are_counted_as_dropped() -> None:
    metrics = ServiceMetrics("t")
    processor = BoundedExportProcessor(
        FailingExporter(),
        exported=metrics.spans_exported,
        dropped=metrics.spans_dropped,
        service="t",
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    for _ in range(3):
        provider.get_tracer("t").start_span("s").end()
    assert processor.force_flush(timeout_millis=5000)
    assert _value(metrics, "otel_spans_dropped_total", reason="export_failed") == 3
    provider.shutdown()
    provider.get_tracer("t").start_span("late").end()
    assert _value(metrics, "otel_spans_dropped_total", reason="shutdown") == 1
