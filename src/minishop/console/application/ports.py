"""What the console's use cases and pages need from storage and from the other processes.

The store is synchronous (SQLite through the standard library's ``sqlite3``): pages call it
through ``asyncio.to_thread`` so a long search never holds the event loop, and the receiver
hands it batches from one writer thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from minishop.console.domain.logql import LogQuery
from minishop.console.domain.records import LogRecord, SpanRecord, StoredLog


@dataclass(frozen=True, slots=True)
class TraceQuery:
    service: str | None = None  # a span of the trace is of this service
    operation: str | None = None  # a span of the trace has this name (of ``service`` if given)
    status: Literal["ok", "error"] | None = None  # error: a span of the trace has status error
    min_duration_ms: float | None = None  # the whole trace's duration
    attribute: tuple[str, str] | None = None  # a span of the trace has key == value (as text)
    since_ns: int | None = None  # trace start >= since
    until_ns: int | None = None  # trace start <= until
    limit: int = 20


@dataclass(frozen=True, slots=True)
class TraceSummary:
    trace_id: str
    root_service: str  # the root span's, or the earliest span's while the root is missing
    root_name: str
    start_ns: int
    duration_ns: int
    span_count: int
    error: bool
    services: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Edge:
    """Calls from one service to another, seen as a span whose parent is another service's."""

    caller: str
    callee: str
    requests: int
    errors: int
    rate: float  # requests per second over the window
    p95_ms: float


@dataclass(frozen=True, slots=True)
class RedPoint:
    """One service's server spans in one time bucket: rate, errors, latency."""

    time_ns: int  # the bucket's start
    rate: float  # requests per second
    error_ratio: float  # 0..1
    p95_ms: float


@dataclass(frozen=True, slots=True)
class StoreCounts:
    spans: int
    traces: int
    logs: int


class TelemetryStore(Protocol):
    def write_spans(self, spans: Sequence[SpanRecord]) -> None: ...

    def write_logs(self, logs: Sequence[LogRecord]) -> None: ...

    def enforce_retention(self, now_ns: int) -> StoreCounts:
        """Delete what is older than the age limit or beyond the count limits; say what is left."""
        ...

    def search_traces(self, query: TraceQuery) -> list[TraceSummary]:
        """Newest first."""
        ...

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        """Every stored span of the trace, by start time; empty when unknown."""
        ...

    def query_logs(
        self,
        query: LogQuery,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredLog]:
        """Newest first; ``after_id`` (live tail) keeps only rows written after that one."""
        ...

    def trace_logs(self, trace_id: str, limit: int = 500) -> list[StoredLog]:
        """The trace's log lines, oldest first."""
        ...

    def services(self) -> list[str]: ...

    def operations(self, service: str | None = None) -> list[str]: ...

    def service_map(self, since_ns: int, until_ns: int) -> tuple[list[str], list[Edge]]:
        """Nodes (services seen) and the edges between them over the window."""
        ...

    def red_series(
        self, since_ns: int, until_ns: int, step_seconds: int
    ) -> dict[str, list[RedPoint]]:
        """Per service, its server spans bucketed: the overview without Prometheus."""
        ...

    def counts(self) -> StoreCounts: ...

    def close(self) -> None: ...
