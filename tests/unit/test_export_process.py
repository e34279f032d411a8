"""Spans leave through the exporter process: they arrive, a dead collector costs spans not
requests, a killed worker comes back, and every span is counted exactly once."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from minishop.observability.metrics import ServiceMetrics
from minishop.observability.tracing import build_resource
from minishop.observability.worker_export import WorkerExportProcessor
from tests.support.otlp import OtlpReceiver


def _value(metrics: ServiceMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, {"service": "t", **labels}) or 0.0


def _dropped(metrics: ServiceMetrics) -> dict[str, float]:
    reasons = ("queue_full", "export_failed", "worker_lost", "shutdown")
    return {r: _value(metrics, "otel_spans_dropped_total", reason=r) for r in reasons}


def _pipeline(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, **options: int
) -> tuple[TracerProvider, WorkerExportProcessor, ServiceMetrics]:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    metrics = ServiceMetrics("t")
    processor = WorkerExportProcessor(
        exported=metrics.spans_exported,
        dropped=metrics.spans_dropped,
        service="t",
        schedule_delay_ms=20,
        **options,
    )
    provider = TracerProvider(
        resource=build_resource("orders", "1.0", "test"), shutdown_on_exit=False
    )
    provider.add_span_processor(processor)
    return provider, processor, metrics


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A collector that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_spans_reach_the_collector_through_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    with OtlpReceiver() as receiver:
        provider, processor, metrics = _pipeline(receiver.endpoint, monkeypatch)
        tracer = provider.get_tracer("minishop")
        with tracer.start_as_current_span("POST /order", attributes={"order.id": 7}) as root:
            for _ in range(299):
                tracer.start_span("INSERT orders").end()
        assert processor.force_flush(10_000)
        trace_id = format(root.get_span_context().trace_id, "032x")
        spans = receiver.trace(trace_id)
        pid = processor.worker_pid
        assert pid is not None and pid != os.getpid()
        provider.shutdown()
    assert len(spans) == 300
    assert {span.service for span in spans} == {"orders"}
    assert [s.attributes for s in spans if s.name == "POST /order"] == [{"order.id": 7}]
    assert _value(metrics, "otel_spans_exported_total") == 300
    assert set(_dropped(metrics).values()) == {0.0}


def test_a_black_holed_collector_costs_spans_not_requests(
    monkeypatch: pytest.MonkeyPatch, black_hole: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "0.5")
    monkeypatch.setenv("MINISHOP_OTEL_SHUTDOWN_TIMEOUT_MS", "300")
    provider, _processor, metrics = _pipeline(
        black_hole, monkeypatch, max_queue_size=100, max_batch_size=50
    )
    tracer = provider.get_tracer("minishop")
    slowest = 0.0
    for _ in range(3000):  # over 2 s of requests at 1500 spans/s, with the collector silent
        started = time.perf_counter()
        tracer.start_span("s").end()
        slowest = max(slowest, time.perf_counter() - started)
        time.sleep(0.0005)
    assert slowest < 0.05, f"a span's end waited {slowest * 1000:.0f} ms"
    assert _value(metrics, "otel_spans_exported_total") == 0
    dropped = _dropped(metrics)
    assert dropped["export_failed"] > 0  # the worker's POSTs timed out and said so
    started = time.monotonic()
    provider.shutdown()
    assert time.monotonic() - started < 1.5, "the stop waited for the collector"
    assert sum(_dropped(metrics).values()) == 3000  # every span accounted for, once


def test_a_killed_worker_is_restarted_and_spans_flow_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with OtlpReceiver() as receiver:
        provider, processor, metrics = _pipeline(receiver.endpoint, monkeypatch)
        tracer = provider.get_tracer("minishop")
        for _ in range(100):
            tracer.start_span("before").end()
        assert processor.force_flush(10_000)
        first = processor.worker_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        for _ in range(200):
            tracer.start_span("after").end()
        assert processor.force_flush(10_000)
        second = processor.worker_pid
        provider.shutdown()
    assert second is not None and second != first
    assert sum(1 for span in receiver.spans if span.name == "after") > 0
    exported = _value(metrics, "otel_spans_exported_total")
    assert exported == len(receiver.spans)
    assert exported + sum(_dropped(metrics).values()) == 300  # lost spans are counted


def test_a_bad_export_process_setting_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from minishop.observability.tracing import export_process_enabled

    monkeypatch.setenv("MINISHOP_OTEL_EXPORT_PROCESS", "maybe")
    with pytest.raises(ValueError, match="MINISHOP_OTEL_EXPORT_PROCESS must be 'on' or 'off'"):
        export_process_enabled()
