"""A stopping service gives its telemetry a bounded time, and counts what it leaves behind."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence

import orjson
import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from minishop.observability.export import BoundedExportProcessor
from minishop.observability.log_export import BoundedShutdownLogProcessor, build_logger_provider
from minishop.observability.logging import configure_logging
from minishop.observability.metrics import ServiceMetrics
from minishop.observability.telemetry import Telemetry
from minishop.observability.tracing import build_resource

# How long a hung export would hold a stop without the bound; well above every budget here.
HANG_SECONDS = 30


class BlackHoledSpanExporter(SpanExporter):
    """Each export hangs like a POST to a collector that never answers."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self.shut_down = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.released.wait(HANG_SECONDS)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.shut_down = True


class BlackHoledLogExporter(LogRecordExporter):
    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.entered.set()
        self.released.wait(HANG_SECONDS)
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def shutdown(self) -> None:
        return None


def _dropped(metrics: ServiceMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value(
        "otel_spans_dropped_total", {"service": "t", "reason": reason}
    )
    return value or 0.0


def _span_pipeline(
    exporter: SpanExporter,
) -> tuple[TracerProvider, BoundedExportProcessor, ServiceMetrics]:
    metrics = ServiceMetrics("t")
    processor = BoundedExportProcessor(
        exporter,
        exported=metrics.spans_exported,
        dropped=metrics.spans_dropped,
        service="t",
        max_batch_size=5,
        schedule_delay_ms=10,
    )
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(processor)
    return provider, processor, metrics


def test_a_stuck_export_is_left_behind_and_every_unsent_span_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MINISHOP_OTEL_SHUTDOWN_TIMEOUT_MS", "300")
    exporter = BlackHoledSpanExporter()
    provider, processor, metrics = _span_pipeline(exporter)
    tracer = provider.get_tracer("t")
    for _ in range(5):
        tracer.start_span("in flight").end()
    assert exporter.entered.wait(5)  # the worker hangs inside its first export
    for _ in range(7):
        tracer.start_span("queued").end()

    started = time.monotonic()
    provider.shutdown()
    took = time.monotonic() - started
    exporter.released.set()

    assert took < 2, "the stop waited for the collector"
    assert exporter.shut_down
    assert _dropped(metrics, "shutdown") == 5 + 7  # the export under way and the queue
    assert processor.queue_size == 0
    tracer.start_span("after").end()
    assert _dropped(metrics, "shutdown") == 13
    started = time.monotonic()
    processor.shutdown()  # again, as the SDK does at exit: nothing more to wait for
    assert time.monotonic() - started < 0.1


def test_a_healthy_exporter_gets_everything_on_shutdown() -> None:
    exporter = BlackHoledSpanExporter()
    exporter.released.set()  # answers at once
    provider, _processor, metrics = _span_pipeline(exporter)
    for _ in range(12):
        provider.get_tracer("t").start_span("s").end()
    provider.shutdown()
    assert metrics.registry.get_sample_value("otel_spans_exported_total", {"service": "t"}) == 12
    assert _dropped(metrics, "shutdown") == 0


def test_the_log_exporter_shutdown_is_bounded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINISHOP_OTEL_SHUTDOWN_TIMEOUT_MS", "300")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "10")  # the worker thread exports at once
    exporter = BlackHoledLogExporter()
    provider = build_logger_provider(build_resource("t", "1", "test"), exporter)
    processor = provider._multi_log_record_processor._log_record_processors[0]
    assert isinstance(processor, BoundedShutdownLogProcessor)
    assert hasattr(processor, "_batch_processor")  # the SDK internals the bound relies on
    for _ in range(3):
        provider.get_logger("t").emit(body="line")
    assert exporter.entered.wait(5)

    stream = io.BytesIO()
    configure_logging("t", "INFO", stream=stream)

    started = time.monotonic()
    provider.shutdown()
    took = time.monotonic() - started
    exporter.released.set()
    assert took < 2, "LoggerProvider.shutdown() waited for the collector"
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["records"] for line in lines if line["message"].startswith("log export")] == [3]


async def test_spans_and_log_records_are_flushed_side_by_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both stuck: the stop pays one budget, not one per signal."""
    monkeypatch.setenv("MINISHOP_OTEL_SHUTDOWN_TIMEOUT_MS", "1000")
    monkeypatch.setenv("OTEL_BLRP_SCHEDULE_DELAY", "10")
    span_exporter, log_exporter = BlackHoledSpanExporter(), BlackHoledLogExporter()
    tracer_provider, _processor, metrics = _span_pipeline(span_exporter)
    logger_provider = build_logger_provider(build_resource("t", "1", "test"), log_exporter)
    tracer_provider.get_tracer("t").start_span("s").end()
    logger_provider.get_logger("t").emit(body="line")
    assert span_exporter.entered.wait(5) and log_exporter.entered.wait(5)
    telemetry = Telemetry(
        service="t",
        metrics=metrics,
        tracer_provider=tracer_provider,
        tracer=tracer_provider.get_tracer("t"),
        logger=None,  # type: ignore[arg-type]  # not used by shutdown
        logger_provider=logger_provider,
    )

    started = time.monotonic()
    await telemetry.shutdown()
    took = time.monotonic() - started
    span_exporter.released.set()
    log_exporter.released.set()
    assert took < 1.8, f"{took:.2f} s: the flushes ran one after the other"
