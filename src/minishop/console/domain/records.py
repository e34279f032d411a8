"""What the console stores: spans and log records, decoded from OTLP into plain values.

Identifiers are lower-case hex (32 digits for a trace, 16 for a span), as every viewer and
the ``traceresponse`` header show them; times are integer nanoseconds since the epoch, as
OTLP carries them, so nothing is rounded before it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SpanRecord:
    trace_id: str
    span_id: str
    parent_span_id: str  # "" for a root span
    service: str  # the resource's service.name
    name: str
    kind: str  # "server", "client", "internal", "producer", "consumer" or "unspecified"
    start_ns: int
    end_ns: int
    status: str  # "unset", "ok" or "error"
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # {"name", "time_ns", "attributes"}
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)


@dataclass(frozen=True, slots=True)
class LogRecord:
    timestamp_ns: int
    service: str  # the resource's service.name
    level: str  # lower case: "debug", "info", "warning", "error", "critical"
    message: str  # the record's body
    trace_id: str = ""  # "" outside a span
    span_id: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredLog:
    """A log record as read back, with its row id: live tail asks for rows after the last."""

    id: int
    record: LogRecord
