"""The console's JSON API (CONTRACT section 8): traces, one trace, logs and the service map.

Times are RFC 3339 UTC and durations milliseconds, whatever the store keeps; bad parameters
are 400/422 problem+json that say which and why, never a 500. The store is synchronous, so
each call runs in a worker thread and a long search never holds the event loop.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from minishop.console.adapters.web.templating import milliseconds, rfc3339
from minishop.console.application.ports import Edge, TelemetryStore, TraceQuery, TraceSummary
from minishop.console.application.time_window import InvalidTime, parse_bound, relative_seconds
from minishop.console.domain import logql
from minishop.console.domain.records import SpanRecord, StoredLog
from minishop.platform.problems import Problem

MAX_LIMIT = 1000
DEFAULT_LOG_QUERY = '{app="minishop"}'
DEFAULT_MAP_WINDOW = "15m"
TRACE_ID_LENGTH = 32


def now_ns() -> int:
    return time.time_ns()


def invalid_parameter(name: str, detail: str) -> Problem:
    return Problem(400, f"{name}: {detail}", type_="invalid-parameter", parameter=name)


def bound_or_problem(name: str, text: str | None, now: int) -> int | None:
    """``since``/``until`` as ns, or a 400 naming the parameter."""
    if text is None or not text.strip():
        return None
    try:
        return parse_bound(text, now)
    except InvalidTime as exc:
        raise invalid_parameter(name, str(exc)) from None


def attribute_or_problem(text: str | None) -> tuple[str, str] | None:
    if text is None or not text.strip():
        return None
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise invalid_parameter("attr", f"{text!r} is not key=value (for example order.id=42)")
    return key.strip(), value.strip()


def parse_query_or_problem(text: str) -> logql.LogQuery:
    """The LogQL subset, or a 400 saying where the query goes wrong (0-based ``position``)."""
    try:
        return logql.parse_logql(text)
    except logql.LogQueryError as exc:
        raise Problem(
            400,
            f"Invalid query: {exc.message} at column {exc.position + 1}",
            type_="invalid-query",
            query=text,
            position=exc.position,
            column=exc.position + 1,
        ) from None


def window_seconds_or_problem(window: str) -> float:
    try:
        seconds = relative_seconds(window)
    except InvalidTime as exc:
        raise invalid_parameter("window", str(exc)) from None
    if not seconds:
        raise invalid_parameter("window", f"{window!r} is not a duration such as 5m, 15m or 1h")
    return seconds


def trace_summary_json(summary: TraceSummary) -> dict[str, Any]:
    return {
        "trace_id": summary.trace_id,
        "root_service": summary.root_service,
        "root_name": summary.root_name,
        "start": rfc3339(summary.start_ns),
        "duration_ms": milliseconds(summary.duration_ns),
        "span_count": summary.span_count,
        "error": summary.error,
    }


def span_json(span: SpanRecord) -> dict[str, Any]:
    return {
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id or None,
        "service": span.service,
        "name": span.name,
        "kind": span.kind,
        "start": rfc3339(span.start_ns),
        "duration_ms": milliseconds(span.duration_ns),
        "status": span.status,
        "attributes": span.attributes,
        "events": [event_json(event) for event in span.events],
    }


def event_json(event: dict[str, Any]) -> dict[str, Any]:
    time_ns = event.get("time_ns")
    return {
        "name": event.get("name", ""),
        "time": rfc3339(time_ns) if isinstance(time_ns, int) else None,
        "attributes": event.get("attributes", {}),
    }


def log_json(stored: StoredLog) -> dict[str, Any]:
    record = stored.record
    return {
        "timestamp": rfc3339(record.timestamp_ns),
        "service": record.service,
        "level": record.level,
        "message": record.message,
        "trace_id": record.trace_id or None,
        "span_id": record.span_id or None,
        "attributes": record.attributes,
    }


def edge_json(edge: Edge) -> dict[str, Any]:
    return {
        "from": edge.caller,
        "to": edge.callee,
        "rate": round(edge.rate, 4),
        "error_rate": round(edge.errors / edge.requests, 4) if edge.requests else 0.0,
        "p95_ms": round(edge.p95_ms, 3),
    }


def build_api_router(store: TelemetryStore) -> APIRouter:
    router = APIRouter(prefix="/api", tags=["console"])

    @router.get("/traces")
    async def search_traces(
        service: Annotated[str | None, Query(max_length=200)] = None,
        operation: Annotated[str | None, Query(max_length=500)] = None,
        status: Literal["ok", "error"] | None = None,
        min_duration_ms: Annotated[float | None, Query(ge=0, le=86_400_000)] = None,
        attr: Annotated[str | None, Query(max_length=1000)] = None,
        since: Annotated[str | None, Query(max_length=64)] = None,
        until: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
    ) -> dict[str, Any]:
        """Traces newest first; every filter optional (CONTRACT section 8)."""
        now = now_ns()
        query = TraceQuery(
            service=service or None,
            operation=operation or None,
            status=status,
            min_duration_ms=min_duration_ms,
            attribute=attribute_or_problem(attr),
            since_ns=bound_or_problem("since", since, now),
            until_ns=bound_or_problem("until", until, now),
            limit=limit,
        )
        found = await asyncio.to_thread(store.search_traces, query)
        return {"traces": [trace_summary_json(summary) for summary in found]}

    @router.get("/traces/{trace_id}")
    async def get_trace(trace_id: str) -> dict[str, Any]:
        """Every span of the trace, by start time; 404 when the store has none."""
        wanted = trace_id.strip().lower()
        spans = (
            await asyncio.to_thread(store.get_trace, wanted)
            if len(wanted) == TRACE_ID_LENGTH and all(c in "0123456789abcdef" for c in wanted)
            else []
        )
        if not spans:
            raise Problem(
                404,
                f"No trace {trace_id!r} in the console's store "
                "(a trace id is 32 hex digits; old traces are removed by retention).",
                type_="trace-not-found",
            )
        return {"trace_id": wanted, "spans": [span_json(span) for span in spans]}

    @router.get("/logs")
    async def search_logs(
        query: Annotated[str, Query(max_length=4000)] = DEFAULT_LOG_QUERY,
        since: Annotated[str | None, Query(max_length=64)] = None,
        until: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        """Log lines newest first; the query is the LogQL subset (CONTRACT section 4)."""
        parsed = parse_query_or_problem(query)
        now = now_ns()
        since_ns = bound_or_problem("since", since, now)
        until_ns = bound_or_problem("until", until, now)
        found = await asyncio.to_thread(
            lambda: store.query_logs(parsed, since_ns=since_ns, until_ns=until_ns, limit=limit)
        )
        return {"logs": [log_json(stored) for stored in found]}

    @router.get("/services")
    async def service_map(
        window: Annotated[str, Query(max_length=16)] = DEFAULT_MAP_WINDOW,
    ) -> dict[str, Any]:
        """The services seen and who calls whom over the last ``window`` (default 15m)."""
        seconds = window_seconds_or_problem(window)
        now = now_ns()
        nodes, edges = await asyncio.to_thread(
            store.service_map, now - int(seconds * 1_000_000_000), now
        )
        return {"nodes": list(nodes), "edges": [edge_json(edge) for edge in edges]}

    return router
