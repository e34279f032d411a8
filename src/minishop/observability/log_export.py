"""Log lines also sent over OTLP, for stacks whose log store takes OTLP (the Collector → Loki).

Opt-in with the standard variable ``OTEL_LOGS_EXPORTER=otlp`` (and an OTLP endpoint):
every line still goes to stdout, and a copy is queued for export. The queue is
bounded and exported from a background thread (``OTEL_BLRP_*`` tune it), so a slow
or down collector drops log records, never slows a request, and never slows a stop:
the last export gets the same bounded budget as the spans' (``shutdown_budget_seconds``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    LogRecordExportResult,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import TraceFlags

from minishop.observability.export import shutdown_budget_seconds
from minishop.observability.logging import get_logger

_log = get_logger(__name__)

_SEVERITY = {
    "debug": SeverityNumber.DEBUG,
    "info": SeverityNumber.INFO,
    "warning": SeverityNumber.WARN,
    "error": SeverityNumber.ERROR,
    "critical": SeverityNumber.FATAL,
    "exception": SeverityNumber.ERROR,
}
# Fields that are the record's own parts (body, severity, time, trace) or its resource.
_NOT_ATTRIBUTES = frozenset({"message", "level", "timestamp", "trace_id", "span_id", "service"})


def log_export_enabled() -> bool:
    exporters = os.environ.get("OTEL_LOGS_EXPORTER", "").lower().replace(" ", "").split(",")
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return "otlp" in exporters and bool(endpoint) and not disabled


def build_logger_provider(
    resource: Resource, exporter: LogRecordExporter | None = None
) -> LoggerProvider:
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        exporter = OTLPLogExporter()
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(BoundedShutdownLogProcessor(exporter))
    return provider


class _CountingExporter(LogRecordExporter):
    """Counts the records the collector accepted, so a stop can say how many it did not."""

    def __init__(self, inner: LogRecordExporter) -> None:
        self._inner = inner
        self.exported = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = self._inner.export(batch)
        if result is LogRecordExportResult.SUCCESS:
            self.exported += len(batch)
        return result

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self._inner.shutdown()


class BoundedShutdownLogProcessor(BatchLogRecordProcessor):
    """The SDK's batch processor, whose shutdown waits at most the telemetry budget.

    ``LoggerProvider.shutdown()`` calls ``shutdown()`` without a timeout, and the
    SDK's default then waits up to 30 s for an export stuck on a black-holed
    collector. The batching core it wraps takes a timeout: after it, the records
    still queued are left behind with the daemon worker thread, and their number
    is written on stdout (the OTLP copy has ended by then).
    """

    def __init__(self, exporter: LogRecordExporter) -> None:
        self._counting = _CountingExporter(exporter)
        self._emitted = 0
        super().__init__(self._counting)

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self._emitted += 1
        super().on_emit(log_record)

    def shutdown(self) -> None:
        core = getattr(self, "_batch_processor", None)  # SDK 1.45; pinned by a test
        bounded_shutdown = getattr(core, "shutdown", None)
        if getattr(core, "_shutdown", False):
            return  # already done: LoggerProvider calls it again at exit
        if bounded_shutdown is None:
            super().shutdown()
        else:
            bounded_shutdown(timeout_millis=shutdown_budget_seconds() * 1000)
        unsent = self._emitted - self._counting.exported
        if unsent > 0:
            _log.warning("log export incomplete at shutdown, records not sent", records=unsent)


def _attribute(value: Any) -> str | bool | int | float:
    return value if isinstance(value, str | bool | int | float) else str(value)


class OtlpLogForwarder:
    """A structlog processor: hands a copy of each finished event to the OpenTelemetry SDK."""

    def __init__(self, provider: LoggerProvider) -> None:
        self._logger = provider.get_logger("minishop")

    def __call__(
        self, _logger: Any, _method: str, event: MutableMapping[str, Any]
    ) -> Mapping[str, Any]:
        if str(event.get("logger", "")).startswith("opentelemetry"):
            return event  # the exporter's own complaints must not loop back into it
        with contextlib.suppress(Exception):  # a copy for export must never break the line
            self._logger.emit(self._record(event))
        return event

    @staticmethod
    def _record(event: Mapping[str, Any]) -> LogRecord:
        level = str(event.get("level", "info"))
        trace_id, span_id = event.get("trace_id"), event.get("span_id")
        return LogRecord(
            timestamp=time.time_ns(),
            trace_id=int(trace_id, 16) if trace_id else None,
            span_id=int(span_id, 16) if span_id else None,
            trace_flags=TraceFlags(TraceFlags.SAMPLED) if trace_id else None,
            severity_text=level.upper(),
            severity_number=_SEVERITY.get(level, SeverityNumber.INFO),
            body=str(event.get("message", "")),
            attributes={
                key: _attribute(value)
                for key, value in event.items()
                if key not in _NOT_ATTRIBUTES and value is not None
            },
        )
