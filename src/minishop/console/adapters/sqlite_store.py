"""The console's telemetry store: spans, trace summaries and log records in one SQLite file.

One writer connection, used by the ingest's writer thread (under a lock, so a test or a
maintenance call from another thread is safe too), and one read-only connection per reading
thread: in WAL mode readers never wait for the writer, so a page stays fast while a flood of
spans is being written. The schema and why it looks the way it does: ``sqlite_schema.py``.

Retention deletes whole traces, oldest first, in chunks of a bounded size, each its own
transaction: a trace is never left half-deleted, and the writer is never held for longer
than one chunk at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from pathlib import Path
from typing import Any

from minishop.console.adapters import sqlite_schema
from minishop.console.application.ports import (
    Edge,
    RedPoint,
    StoreCounts,
    TraceQuery,
    TraceSummary,
)
from minishop.console.domain.logql import LabelFilter, LogQuery
from minishop.console.domain.records import LogRecord, SpanRecord, StoredLog

logger = logging.getLogger(__name__)

RETENTION_CHUNK_TRACES = 500
RETENTION_CHUNK_LOGS = 5_000
MAX_TERM_VALUE_CHARS = 256

RetentionListener = Callable[[str, str, int], None]
"""Told ``(signal, reason, deleted)`` after each retention chunk: signal "spans" or "logs",
reason "age" or "count"."""

_TRACE_COLUMNS = (
    "id, trace_id, start_ns, end_ns, span_count, error, root_service, root_name, root_start_ns,"
    " has_root, services"
)
_SPAN_COLUMNS = (
    "trace_id, span_id, parent_span_id, service, name, kind, start_ns, end_ns, status,"
    " status_message, attributes, events, resource"
)
_LOG_COLUMNS = "id, timestamp_ns, service, level, message, trace_id, span_id, attributes, resource"


@lru_cache(maxsize=65_536)  # the same services, names and values recur in every batch
def term(kind: str, *parts: str) -> int:
    """The signed 64-bit hash ``trace_terms`` stores for a service, operation or attribute."""
    text = "\x1f".join((kind, *parts)).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big", signed=True)


def attribute_text(value: Any) -> str | None:
    """An attribute value as the text a search compares it with; ``None``: not searchable."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str | int | float):
        text = str(value)
    else:
        return None
    return text if len(text) <= MAX_TERM_VALUE_CHARS else None


class SqliteTelemetryStore:
    """``TelemetryStore`` on SQLite (see the module docstring)."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_spans: int,
        max_logs: int,
        max_age_seconds: float,
        on_retention: RetentionListener | None = None,
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.max_spans = max_spans
        self.max_logs = max_logs
        self.max_age_ns = int(max_age_seconds * 1e9)
        self._on_retention = on_retention
        self._write_lock = threading.Lock()
        self._writer = sqlite_schema.connect(self.path, readonly=False)
        sqlite_schema.create_schema(self._writer)
        self._readers_lock = threading.Lock()
        self._readers: list[sqlite3.Connection] = []
        self._local = threading.local()
        self._closed = False
        self._counts = self._count_rows()

    # -- writing ---------------------------------------------------------------------------

    def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        if not spans:
            return
        by_trace: dict[str, list[SpanRecord]] = defaultdict(list)
        for span in spans:
            by_trace[span.trace_id].append(span)
        with self._transaction() as connection:
            existing = self._trace_rows(connection, list(by_trace))
            new_traces = 0
            term_rows: list[tuple[int, int]] = []
            for trace_id, trace_spans in by_trace.items():
                row = _merge_trace(existing.get(trace_id), trace_id, trace_spans)
                new_traces += trace_id not in existing
                trace_ref = connection.execute(
                    "INSERT INTO traces (trace_id, start_ns, end_ns, span_count, error,"
                    " root_service, root_name, root_start_ns, has_root, services)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(trace_id) DO UPDATE SET start_ns = excluded.start_ns,"
                    " end_ns = excluded.end_ns, span_count = excluded.span_count,"
                    " error = excluded.error, root_service = excluded.root_service,"
                    " root_name = excluded.root_name, root_start_ns = excluded.root_start_ns,"
                    " has_root = excluded.has_root, services = excluded.services RETURNING id",
                    row,
                ).fetchone()[0]
                term_rows.extend((value, trace_ref) for value in _terms_of(trace_spans))
            connection.executemany(
                f"INSERT INTO spans ({_SPAN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [_span_row(span) for span in spans],
            )
            connection.executemany(
                "INSERT OR IGNORE INTO trace_terms (term, trace_ref) VALUES (?, ?)", term_rows
            )
            operations: dict[tuple[str, str], int] = {}
            for span in spans:
                key = (span.service, span.name)
                operations[key] = max(operations.get(key, 0), span.start_ns)
            connection.executemany(
                "INSERT INTO operations (service, name, last_seen_ns) VALUES (?, ?, ?)"
                " ON CONFLICT(service, name) DO UPDATE"
                " SET last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)",
                [(service, name, seen) for (service, name), seen in operations.items()],
            )
        self._counts = StoreCounts(
            spans=self._counts.spans + len(spans),
            traces=self._counts.traces + new_traces,
            logs=self._counts.logs,
        )

    def write_logs(self, logs: Sequence[LogRecord]) -> None:
        if not logs:
            return
        with self._transaction() as connection:
            connection.executemany(
                "INSERT INTO logs (timestamp_ns, service, level, message, trace_id, span_id,"
                " attributes, resource) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        log.timestamp_ns,
                        log.service,
                        log.level,
                        log.message,
                        log.trace_id,
                        log.span_id,
                        _dumps(log.attributes),
                        _dumps(log.resource),
                    )
                    for log in logs
                ],
            )
        self._counts = StoreCounts(
            spans=self._counts.spans,
            traces=self._counts.traces,
            logs=self._counts.logs + len(logs),
        )

    def enforce_retention(self, now_ns: int) -> StoreCounts:
        cutoff = now_ns - self.max_age_ns
        while self._delete_traces("age", "WHERE start_ns < ?", (cutoff,)):
            pass
        while self._counts.spans > self.max_spans and self._delete_traces(
            "count", "", (), spans_wanted=self._counts.spans - self.max_spans
        ):
            pass
        while self._delete_logs("age", "WHERE timestamp_ns < ? ORDER BY timestamp_ns", (cutoff,)):
            pass
        while self._counts.logs > self.max_logs and self._delete_logs(
            "count", "ORDER BY id", (), limit=self._counts.logs - self.max_logs
        ):
            pass
        with self._transaction() as connection:
            connection.execute("DELETE FROM operations WHERE last_seen_ns < ?", (cutoff,))
        return self._counts

    def _delete_traces(
        self, reason: str, where: str, params: tuple[object, ...], spans_wanted: int = 0
    ) -> int:
        """Delete one chunk of the oldest traces matching ``where``; the number of spans gone."""
        with self._transaction() as connection:
            rows = connection.execute(
                f"SELECT id, trace_id, span_count FROM traces {where}"
                f" ORDER BY start_ns LIMIT {RETENTION_CHUNK_TRACES}",
                params,
            ).fetchall()
            if spans_wanted:
                kept, total = [], 0
                for row in rows:
                    if total >= spans_wanted:
                        break
                    kept.append(row)
                    total += row[2]
                rows = kept
            if not rows:
                return 0
            refs = [(row[0],) for row in rows]
            trace_ids = [(row[1],) for row in rows]
            before = connection.total_changes
            connection.executemany("DELETE FROM spans WHERE trace_id = ?", trace_ids)
            deleted = connection.total_changes - before
            connection.executemany("DELETE FROM trace_terms WHERE trace_ref = ?", refs)
            connection.executemany("DELETE FROM traces WHERE id = ?", refs)
        self._counts = StoreCounts(
            spans=max(0, self._counts.spans - deleted),
            traces=max(0, self._counts.traces - len(rows)),
            logs=self._counts.logs,
        )
        self._tell("spans", reason, deleted)
        return max(deleted, 1)  # a trace row without spans still counts as progress

    def _delete_logs(
        self, reason: str, where_order: str, params: tuple[object, ...], limit: int = 0
    ) -> int:
        chunk = min(limit, RETENTION_CHUNK_LOGS) if limit else RETENTION_CHUNK_LOGS
        with self._transaction() as connection:
            deleted = connection.execute(
                f"DELETE FROM logs WHERE id IN (SELECT id FROM logs {where_order} LIMIT {chunk})",
                params,
            ).rowcount
        if deleted:
            self._counts = StoreCounts(
                spans=self._counts.spans,
                traces=self._counts.traces,
                logs=max(0, self._counts.logs - deleted),
            )
            self._tell("logs", reason, deleted)
        return deleted

    def _tell(self, signal: str, reason: str, deleted: int) -> None:
        if self._on_retention is not None and deleted:
            try:
                self._on_retention(signal, reason, deleted)
            except Exception:  # counting must never stop retention
                logger.exception("retention listener failed")

    # -- reading ---------------------------------------------------------------------------

    def search_traces(self, query: TraceQuery) -> list[TraceSummary]:
        conditions: list[str] = []
        params: list[object] = []
        terms: list[int] = []
        if query.service and query.operation:
            terms.append(term("operation", query.service, query.operation))
        elif query.service:
            terms.append(term("service", query.service))
        elif query.operation:
            terms.append(term("name", query.operation))
        if query.attribute:
            terms.append(term("attribute", query.attribute[0], query.attribute[1]))
        for value in terms:
            conditions.append("id IN (SELECT trace_ref FROM trace_terms WHERE term = ?)")
            params.append(value)
        if query.status == "error":
            conditions.append("error = 1")
        elif query.status == "ok":
            conditions.append("error = 0")
        if query.min_duration_ms is not None:
            conditions.append("end_ns - start_ns >= ?")
            params.append(int(query.min_duration_ms * 1_000_000))
        if query.since_ns is not None:
            conditions.append("start_ns >= ?")
            params.append(query.since_ns)
        if query.until_ns is not None:
            conditions.append("start_ns <= ?")
            params.append(query.until_ns)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        # Newest first through the start index: the search stops at ``limit`` matches.
        rows = self._reader().execute(
            f"SELECT {_TRACE_COLUMNS} FROM traces INDEXED BY traces_start {where}"
            " ORDER BY start_ns DESC LIMIT ?",
            [*params, max(0, query.limit)],
        )
        return [_summary(row) for row in rows]

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        rows = self._reader().execute(
            f"SELECT {_SPAN_COLUMNS} FROM spans WHERE trace_id = ?", (trace_id.lower(),)
        )
        spans = [_span_of(row) for row in rows]
        spans.sort(key=lambda span: (span.start_ns, span.span_id))
        return spans

    def query_logs(
        self,
        query: LogQuery,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredLog]:
        from minishop.console.adapters.log_sql import compile_log_query

        expression, params = compile_log_query(query)
        conditions = [f"({expression})"]
        if since_ns is not None:
            conditions.append("timestamp_ns >= ?")
            params = [*params, since_ns]
        if until_ns is not None:
            conditions.append("timestamp_ns <= ?")
            params = [*params, until_ns]
        if after_id is not None:
            conditions.append("id > ?")
            params = [*params, after_id]
        # Newest first through the time index, which a selective filter would otherwise lose
        # to the planner's guesses; a query for one trace's lines goes straight to them.
        index = "logs_timestamp"
        trace_id = _wanted_trace(query)
        if trace_id is not None:
            index = "logs_trace"
            conditions.append("trace_id = ? AND trace_id != ''")  # the index is partial
            params = [*params, trace_id]
        rows = self._reader().execute(
            f"SELECT {_LOG_COLUMNS} FROM logs INDEXED BY {index}"
            f" WHERE {' AND '.join(conditions)} ORDER BY timestamp_ns DESC, id DESC LIMIT ?",
            [*params, max(0, limit)],
        )
        return [_stored_log(row) for row in rows]

    def trace_logs(self, trace_id: str, limit: int = 500) -> list[StoredLog]:
        rows = self._reader().execute(
            f"SELECT {_LOG_COLUMNS} FROM logs WHERE trace_id = ? AND trace_id != ''"
            " ORDER BY timestamp_ns, id LIMIT ?",
            (trace_id.lower(), max(0, limit)),
        )
        return [_stored_log(row) for row in rows]

    def services(self) -> list[str]:
        rows = self._reader().execute("SELECT DISTINCT service FROM operations ORDER BY service")
        return [row[0] for row in rows]

    def operations(self, service: str | None = None) -> list[str]:
        if service is None:
            rows = self._reader().execute("SELECT DISTINCT name FROM operations ORDER BY name")
        else:
            rows = self._reader().execute(
                "SELECT name FROM operations WHERE service = ? ORDER BY name", (service,)
            )
        return [row[0] for row in rows]

    def service_map(self, since_ns: int, until_ns: int) -> tuple[list[str], list[Edge]]:
        reader = self._reader()
        nodes = [
            row[0]
            for row in reader.execute(
                "SELECT DISTINCT service FROM spans WHERE start_ns BETWEEN ? AND ?"
                " ORDER BY service",
                (since_ns, until_ns),
            )
        ]
        calls: dict[tuple[str, str], list[tuple[int, bool]]] = defaultdict(list)
        rows = reader.execute(
            "SELECT parent.service, child.service, child.end_ns - child.start_ns,"
            f" {_failed('child')}"
            " FROM spans AS child JOIN spans AS parent"
            " ON parent.trace_id = child.trace_id AND parent.span_id = child.parent_span_id"
            " WHERE child.start_ns BETWEEN ? AND ? AND child.kind = 'server'"
            " AND child.parent_span_id != ''"
            " AND parent.service != child.service",
            (since_ns, until_ns),
        )
        for caller, callee, duration, failed in rows:
            calls[(caller, callee)].append((duration, bool(failed)))
        seconds = max((until_ns - since_ns) / 1e9, 1e-9)
        edges = [
            Edge(
                caller=caller,
                callee=callee,
                requests=len(seen),
                errors=sum(error for _, error in seen),
                rate=len(seen) / seconds,
                p95_ms=_p95([duration for duration, _ in seen]) / 1e6,
            )
            for (caller, callee), seen in sorted(calls.items())
        ]
        return nodes, edges

    def red_series(
        self, since_ns: int, until_ns: int, step_seconds: int
    ) -> dict[str, list[RedPoint]]:
        step_ns = max(1, int(step_seconds)) * 1_000_000_000
        buckets = max(1, math.ceil((until_ns - since_ns) / step_ns))
        seen: dict[str, list[list[tuple[int, bool]]]] = {}
        rows = self._reader().execute(
            f"SELECT service, start_ns, end_ns - start_ns, {_failed('spans')} FROM spans"
            " WHERE start_ns >= ? AND start_ns < ? AND kind = 'server'",
            (since_ns, until_ns),
        )
        for service, start, duration, failed in rows:
            index = min(buckets - 1, (start - since_ns) // step_ns)
            per_bucket = seen.setdefault(service, [[] for _ in range(buckets)])
            per_bucket[index].append((duration, bool(failed)))
        series: dict[str, list[RedPoint]] = {}
        for service in sorted(seen):
            points = []
            for index, bucket in enumerate(seen[service]):
                count = len(bucket)
                points.append(
                    RedPoint(
                        time_ns=since_ns + index * step_ns,
                        rate=count / (step_ns / 1e9),
                        error_ratio=(sum(error for _, error in bucket) / count) if count else 0.0,
                        p95_ms=_p95([duration for duration, _ in bucket]) / 1e6,
                    )
                )
            series[service] = points
        return series

    def counts(self) -> StoreCounts:
        return self._counts

    def close(self) -> None:
        self._closed = True
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for connection in readers:
            connection.close()
        with self._write_lock:
            with suppress(sqlite3.Error):
                self._writer.execute("PRAGMA optimize")
            self._writer.close()

    def optimize(self) -> None:
        """Refresh the planner's statistics (``PRAGMA optimize``): cheap, run it now and then."""
        with self._write_lock:
            self._writer.execute("PRAGMA analysis_limit=1000")
            self._writer.execute("PRAGMA optimize")

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            connection = self._writer
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise sqlite3.ProgrammingError("the store is closed")
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite_schema.connect(self.path, readonly=True)
            self._local.connection = connection
            with self._readers_lock:
                self._readers.append(connection)
        return connection

    def _trace_rows(
        self, connection: sqlite3.Connection, trace_ids: list[str]
    ) -> dict[str, tuple[Any, ...]]:
        found: dict[str, tuple[Any, ...]] = {}
        for first in range(0, len(trace_ids), 500):
            chunk = trace_ids[first : first + 500]
            marks = ",".join("?" * len(chunk))
            for row in connection.execute(
                f"SELECT {_TRACE_COLUMNS} FROM traces WHERE trace_id IN ({marks})", chunk
            ):
                found[row[1]] = row
        return found

    def _count_rows(self) -> StoreCounts:
        def count(table: str) -> int:
            return self._writer.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

        return StoreCounts(spans=count("spans"), traces=count("traces"), logs=count("logs"))


def _merge_trace(
    existing: tuple[Any, ...] | None, trace_id: str, spans: list[SpanRecord]
) -> tuple[Any, ...]:
    """The ``traces`` row once ``spans`` are added to what was stored (values, without id)."""
    if existing is None:
        start, end, count, error = math.inf, -math.inf, 0, False
        root_service, root_name, root_start, has_root = "", "", math.inf, False
        services: set[str] = set()
    else:
        _, _, start, end, count, error, root_service, root_name, root_start, has_root, names = (
            existing
        )
        services = set(json.loads(names))
    for span in spans:
        start = min(start, span.start_ns)
        end = max(end, span.end_ns)
        count += 1
        error = error or span.status == "error"
        services.add(span.service)
        is_root = not span.parent_span_id
        if (is_root and not has_root) or (is_root == bool(has_root) and span.start_ns < root_start):
            root_service, root_name, root_start, has_root = (
                span.service,
                span.name,
                span.start_ns,
                is_root,
            )
    return (
        trace_id,
        int(start),
        int(end),
        count,
        int(bool(error)),
        root_service,
        root_name,
        int(root_start),
        int(bool(has_root)),
        json.dumps(sorted(services)),
    )


def _terms_of(spans: list[SpanRecord]) -> set[int]:
    terms: set[int] = set()
    for span in spans:
        terms.add(term("service", span.service))
        terms.add(term("name", span.name))
        terms.add(term("operation", span.service, span.name))
        for key, value in span.attributes.items():
            text = attribute_text(value)
            if text is not None:
                terms.add(term("attribute", key, text))
    return terms


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)


def _span_row(span: SpanRecord) -> tuple[Any, ...]:
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.service,
        span.name,
        span.kind,
        span.start_ns,
        span.end_ns,
        span.status,
        span.status_message,
        _dumps(span.attributes),
        _dumps(span.events),
        _dumps(span.resource),
    )


def _span_of(row: tuple[Any, ...]) -> SpanRecord:
    return SpanRecord(
        trace_id=row[0],
        span_id=row[1],
        parent_span_id=row[2],
        service=row[3],
        name=row[4],
        kind=row[5],
        start_ns=row[6],
        end_ns=row[7],
        status=row[8],
        status_message=row[9],
        attributes=json.loads(row[10]),
        events=json.loads(row[11]),
        resource=json.loads(row[12]),
    )


def _summary(row: tuple[Any, ...]) -> TraceSummary:
    return TraceSummary(
        trace_id=row[1],
        root_service=row[6],
        root_name=row[7],
        start_ns=row[2],
        duration_ns=max(0, row[3] - row[2]),
        span_count=row[4],
        error=bool(row[5]),
        services=tuple(json.loads(row[10])),
    )


def _stored_log(row: tuple[Any, ...]) -> StoredLog:
    return StoredLog(
        id=row[0],
        record=LogRecord(
            timestamp_ns=row[1],
            service=row[2],
            level=row[3],
            message=row[4],
            trace_id=row[5],
            span_id=row[6],
            attributes=json.loads(row[7]),
            resource=json.loads(row[8]),
        ),
    )


def _p95(values: list[int]) -> float:
    """The 95th percentile, nearest rank; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return float(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)])


def _failed(table: str) -> str:
    """A failed request, as ``error_total`` counts them (CONTRACT section 3): a span with status
    error (5xx), or one that names why it failed in ``error.type`` (a declined payment's 402,
    whose server span keeps status unset as the HTTP conventions want for a 4xx)."""
    return (
        f"({table}.status = 'error'"
        f""" OR json_extract({table}.attributes, '$."error.type"') IS NOT NULL)"""
    )


def _wanted_trace(query: LogQuery) -> str | None:
    """The trace id a query asks for with ``| trace_id="…"`` (or in its selector), if any."""
    matchers = [*query.selectors]
    matchers += [stage.matcher for stage in query.pipeline if isinstance(stage, LabelFilter)]
    for matcher in matchers:
        if matcher.name == "trace_id" and matcher.op == "=" and matcher.value:
            return matcher.value.lower()
    return None
