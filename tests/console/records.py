"""Spans and log records written by hand: what a test needs, and nothing else."""

from __future__ import annotations

import itertools
from typing import Any

from minishop.console.domain.records import LogRecord, SpanRecord

MS = 1_000_000
_ids = itertools.count(1)


def trace_id(n: int) -> str:
    return f"{n:032x}"


def span_id() -> str:
    return f"{next(_ids):016x}"


def span(
    trace: str,
    service: str,
    name: str,
    *,
    start_ns: int,
    duration_ms: float = 10,
    parent: str = "",
    kind: str = "server",
    status: str = "unset",
    span: str | None = None,
    **attributes: Any,
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace,
        span_id=span or span_id(),
        parent_span_id=parent,
        service=service,
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=start_ns + int(duration_ms * MS),
        status=status,
        attributes=attributes,
        resource={"service.name": service},
    )


def log(
    message: str,
    *,
    timestamp_ns: int,
    service: str = "orders",
    level: str = "info",
    trace: str = "",
    span: str = "",
) -> LogRecord:
    return LogRecord(
        timestamp_ns=timestamp_ns,
        service=service,
        level=level,
        message=message,
        trace_id=trace,
        span_id=span,
        attributes={"logger": "test"},
        resource={"service.name": service},
    )
