"""Fakes for the console's tests.

Fake Prometheus, Alertmanager and Slack receiver: small FastAPI apps with canned answers.

Each records the requests it received so a test can check what the console asked for.
Tests reach them through ``httpx.ASGITransport`` (no socket) or a ``HostRouting`` transport
when one console router talks to several of them.

``MemoryStore``: the whole ``TelemetryStore`` over lists, for the page and API tests. Filtering is simple on purpose: enough to tell that pages and the API
pass the right query to the store and show what comes back, not a second implementation.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from minishop.console.application.lab import LabProcess, ProcessStatus
from minishop.console.application.ports import Edge, RedPoint, StoreCounts, TraceQuery, TraceSummary
from minishop.console.domain.logql import (
    LabelFilter,
    LabelMatcher,
    LogQuery,
)
from minishop.console.domain.records import LogRecord, SpanRecord, StoredLog

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def closed_port_url() -> str:
    """A URL nothing listens on: what a Prometheus that is not running looks like."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class HostRouting(httpx.AsyncBaseTransport):
    """One transport for several fake servers, chosen by the request's host name."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self._transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._transports.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no fake server for {request.url.host}", request=request)
        return await transport.handle_async_request(request)


@dataclass
class Recorded:
    requests: list[tuple[str, str, dict[str, str], Any]] = field(default_factory=list)

    def paths(self) -> list[str]:
        return [path for _, path, _, _ in self.requests]

    def params(self, path: str) -> list[dict[str, str]]:
        return [params for _, seen, params, _ in self.requests if seen == path]


def _matrix(start: float, end: float, step: float, labels: dict[str, str], value: float) -> dict:
    values = []
    moment = start
    while moment <= end:
        values.append([moment, str(value)])
        moment += step
    return {"metric": labels, "values": values}


RULES = {
    "groups": [
        {
            "name": "minishop",
            "file": "/etc/prometheus/rules/alerts.yml",
            "interval": 5,
            "rules": [
                {
                    "type": "alerting",
                    "name": "HighErrorRate",
                    "query": "service:request_error:ratio_rate1m > 0.1",
                    "duration": 60,
                    "state": "firing",
                    "health": "ok",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "payments: 35% of requests fail",
                        "description": "35% of the requests that payments served failed.",
                        "runbook_url": "docs/runbooks/high-error-rate.md",
                    },
                    "alerts": [
                        {
                            "labels": {
                                "alertname": "HighErrorRate",
                                "service": "payments",
                                "severity": "critical",
                            },
                            "annotations": {"summary": "payments: 35% of requests fail"},
                            "state": "firing",
                            "activeAt": "2025-01-02T10:00:00.123456789Z",
                            "value": "3.5e-01",
                        }
                    ],
                },
                {
                    "type": "alerting",
                    "name": "HighLatencyP95",
                    "query": "service:request_duration_seconds:p95_rate5m > 0.5",
                    "duration": 300,
                    "state": "pending",
                    "health": "ok",
                    "labels": {"severity": "warning"},
                    "annotations": {"summary": "orders: p95 latency is 800ms"},
                    "alerts": [
                        {
                            "labels": {
                                "alertname": "HighLatencyP95",
                                "service": "orders",
                                "severity": "warning",
                            },
                            "annotations": {},
                            "state": "pending",
                            "activeAt": "2025-01-02T10:05:00Z",
                            "value": "0.8",
                        }
                    ],
                },
                {
                    "type": "alerting",
                    "name": "TargetDown",
                    "query": "up == 0",
                    "duration": 60,
                    "state": "inactive",
                    "health": "ok",
                    "labels": {"severity": "critical"},
                    "annotations": {"summary": "a target cannot be scraped"},
                    "alerts": [],
                },
                {
                    "type": "recording",
                    "name": "service:request_total:rate1m",
                    "query": "sum by (service) (rate(request_total[1m]))",
                    "health": "ok",
                },
            ],
        }
    ]
}


def fake_prometheus(recorded: Recorded) -> FastAPI:
    app = FastAPI()

    def note(request: Request) -> None:
        recorded.requests.append(("GET", request.url.path, dict(request.query_params), None))

    @app.get("/api/v1/query_range")
    async def query_range(request: Request) -> JSONResponse:
        note(request)
        params = request.query_params
        query = params["query"]
        if "syntax error" in query:
            return JSONResponse(
                {"status": "error", "errorType": "bad_data", "error": "parse error at char 7"},
                status_code=400,
            )
        start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
        result = [
            _matrix(start, end, step, {"service": "gateway"}, 0.25),
            _matrix(start, end, step, {"service": "payments"}, 0.05),
        ]
        return JSONResponse(
            {"status": "success", "data": {"resultType": "matrix", "result": result}}
        )

    @app.get("/api/v1/query")
    async def query(request: Request) -> JSONResponse:
        note(request)
        at = float(request.query_params["time"])
        result = [{"metric": {"service": "gateway"}, "value": [at, "0.125"]}]
        return JSONResponse(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    @app.get("/api/v1/query_exemplars")
    async def exemplars(request: Request) -> JSONResponse:
        note(request)
        start = float(request.query_params["start"])
        data = [
            {
                "seriesLabels": {"service": "gateway", "le": "0.5"},
                "exemplars": [
                    {"labels": {"trace_id": TRACE_ID}, "value": "0.42", "timestamp": start + 30},
                ],
            }
        ]
        return JSONResponse({"status": "success", "data": data})

    @app.get("/api/v1/label/{label}/values")
    async def label_values(label: str, request: Request) -> JSONResponse:
        note(request)
        return JSONResponse({"status": "success", "data": ["orders", "gateway", "payments"]})

    @app.get("/api/v1/rules")
    async def rules(request: Request) -> JSONResponse:
        note(request)
        return JSONResponse({"status": "success", "data": RULES})

    return app


class FakeStore:
    """The store methods the dashboards read; records the windows asked for."""

    def __init__(self, points: dict[str, Sequence[RedPoint]] | None = None) -> None:
        self.points = points or {}
        self.calls: list[tuple[int, int, int]] = []

    def red_series(self, since_ns: int, until_ns: int, step_seconds: int) -> dict:
        self.calls.append((since_ns, until_ns, step_seconds))
        return {
            service: [
                RedPoint(
                    time_ns=since_ns + index * step_seconds * 1_000_000_000,
                    rate=point.rate,
                    error_ratio=point.error_ratio,
                    p95_ms=point.p95_ms,
                )
                for index, point in enumerate(points)
            ]
            for service, points in self.points.items()
        }

    def services(self) -> list[str]:
        return sorted(self.points)


SILENCE_ID = "a1b2c3d4-0000-4000-8000-000000000001"


def fake_alertmanager(recorded: Recorded) -> FastAPI:
    app = FastAPI()

    @app.get("/api/v2/alerts")
    async def alerts(request: Request) -> JSONResponse:
        recorded.requests.append(("GET", request.url.path, {}, None))
        return JSONResponse(
            [
                {
                    "fingerprint": "f1",
                    "labels": {"alertname": "HighErrorRate", "service": "payments"},
                    "annotations": {"summary": "payments: 35% of requests fail"},
                    "startsAt": "2025-01-02T10:01:00.5Z",
                    "endsAt": "2025-01-02T11:01:00Z",
                    "updatedAt": "2025-01-02T10:01:00Z",
                    "status": {"state": "active", "silencedBy": [], "inhibitedBy": []},
                    "receivers": [{"name": "slack-critical"}],
                    "generatorURL": "http://console/graph?g0.expr=up&g0.tab=1",
                }
            ]
        )

    @app.get("/api/v2/silences")
    async def silences(request: Request) -> JSONResponse:
        recorded.requests.append(("GET", request.url.path, {}, None))
        return JSONResponse(
            [
                {
                    "id": SILENCE_ID,
                    "status": {"state": "active"},
                    "matchers": [
                        {"name": "service", "value": "orders", "isRegex": False, "isEqual": True}
                    ],
                    "startsAt": "2025-01-02T10:00:00Z",
                    "endsAt": "2025-01-02T12:00:00Z",
                    "updatedAt": "2025-01-02T10:00:00Z",
                    "createdBy": "ana",
                    "comment": "deploying orders",
                }
            ]
        )

    @app.post("/api/v2/silences")
    async def create(request: Request) -> JSONResponse:
        body = await request.json()
        recorded.requests.append(("POST", request.url.path, {}, body))
        return JSONResponse({"silenceID": SILENCE_ID})

    @app.delete("/api/v2/silence/{silence_id}")
    async def expire(silence_id: str, request: Request) -> JSONResponse:
        recorded.requests.append(("DELETE", request.url.path, {}, None))
        return JSONResponse(None)

    return app


def fake_slack_receiver(recorded: Recorded) -> FastAPI:
    app = FastAPI()

    @app.get("/messages")
    async def messages(request: Request) -> JSONResponse:
        recorded.requests.append(("GET", request.url.path, dict(request.query_params), None))
        return JSONResponse(
            {
                "messages": [
                    {
                        "received_at": "2025-01-02T10:01:10Z",
                        "webhook": "minishop/alerts",
                        "channel": "#minishop-alerts",
                        "username": "alertmanager",
                        "title": "[FIRING:1] HighErrorRate payments",
                        "text": "",
                        "attachments": [
                            {
                                "title": "[FIRING:1] HighErrorRate payments",
                                "text": "35% of the requests that payments served failed",
                                "color": "danger",
                                "title_link": None,
                            }
                        ],
                    }
                ]
            }
        )

    return app


# The TelemetryStore over lists, for the pages and the JSON API.

NS = 1_000_000_000
MS = 1_000_000


def span(
    trace_id: str,
    span_id: str,
    parent: str = "",
    *,
    service: str = "gateway",
    name: str = "GET /",
    start_ms: float = 0,
    end_ms: float = 10,
    status: str = "unset",
    base_ns: int = 1_700_000_000 * NS,
    **attributes: object,
) -> SpanRecord:
    """A span placed at ``base_ns`` + milliseconds, the way tests think about waterfalls."""
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        service=service,
        name=name,
        kind="server" if not parent else "internal",
        start_ns=base_ns + int(start_ms * MS),
        end_ns=base_ns + int(end_ms * MS),
        status=status,
        attributes=dict(attributes),
    )


def _labels(record: LogRecord) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in record.attributes.items()}
    labels.update(
        app="minishop",
        service=record.service,
        level=record.level,
        trace_id=record.trace_id,
        span_id=record.span_id,
    )
    return labels


def _matches(matcher: LabelMatcher, labels: dict[str, str]) -> bool:
    value = labels.get(matcher.name, "")
    if matcher.op == "=":
        return value == matcher.value
    if matcher.op == "!=":
        return value != matcher.value
    found = re.fullmatch(matcher.value, value) is not None
    return found if matcher.op == "=~" else not found


def _keeps(query: LogQuery, record: LogRecord) -> bool:
    labels = _labels(record)
    if not all(_matches(m, labels) for m in query.selectors):
        return False
    for stage in query.pipeline:
        if isinstance(stage, LabelFilter):
            if not _matches(stage.matcher, labels):
                return False
        elif (stage.op == "|=" and stage.value not in record.message) or (
            stage.op == "!=" and stage.value in record.message
        ):
            return False
    return True


@dataclass
class MemoryStore:
    spans: list[SpanRecord] = field(default_factory=list)
    logs: list[StoredLog] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    last_trace_query: TraceQuery | None = None
    last_log_call: dict[str, object] = field(default_factory=dict)

    def write_spans(self, spans: Sequence[SpanRecord]) -> None:
        self.spans.extend(spans)

    def write_logs(self, logs: Sequence[LogRecord]) -> None:
        for record in logs:
            self.logs.append(StoredLog(len(self.logs) + 1, record))

    def enforce_retention(self, now_ns: int) -> StoreCounts:
        return self.counts()

    def _summary(self, trace_id: str) -> TraceSummary:
        spans = sorted(self.get_trace(trace_id), key=lambda s: s.start_ns)
        ids = {s.span_id for s in spans}
        root = next((s for s in spans if s.parent_span_id not in ids), spans[0])
        start = min(s.start_ns for s in spans)
        return TraceSummary(
            trace_id=trace_id,
            root_service=root.service,
            root_name=root.name,
            start_ns=start,
            duration_ns=max(s.end_ns for s in spans) - start,
            span_count=len(spans),
            error=any(s.status == "error" for s in spans),
            services=tuple(sorted({s.service for s in spans})),
        )

    def search_traces(self, query: TraceQuery) -> list[TraceSummary]:
        self.last_trace_query = query
        found = []
        for trace_id in dict.fromkeys(s.trace_id for s in self.spans):
            spans = self.get_trace(trace_id)
            summary = self._summary(trace_id)
            if query.service and not any(s.service == query.service for s in spans):
                continue
            if query.operation and not any(s.name == query.operation for s in spans):
                continue
            if query.status == "error" and not summary.error:
                continue
            if query.status == "ok" and summary.error:
                continue
            if query.min_duration_ms and summary.duration_ns < query.min_duration_ms * MS:
                continue
            if query.attribute and not any(
                str(s.attributes.get(query.attribute[0])) == query.attribute[1] for s in spans
            ):
                continue
            if query.since_ns is not None and summary.start_ns < query.since_ns:
                continue
            if query.until_ns is not None and summary.start_ns > query.until_ns:
                continue
            found.append(summary)
        found.sort(key=lambda s: s.start_ns, reverse=True)
        return found[: query.limit]

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        return sorted((s for s in self.spans if s.trace_id == trace_id), key=lambda s: s.start_ns)

    def query_logs(
        self,
        query: LogQuery,
        *,
        since_ns: int | None = None,
        until_ns: int | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[StoredLog]:
        self.last_log_call = {"query": query, "since_ns": since_ns, "after_id": after_id}
        rows = [
            row
            for row in self.logs
            if _keeps(query, row.record)
            and (since_ns is None or row.record.timestamp_ns >= since_ns)
            and (until_ns is None or row.record.timestamp_ns <= until_ns)
            and (after_id is None or row.id > after_id)
        ]
        return sorted(rows, key=lambda row: row.id, reverse=True)[:limit]

    def trace_logs(self, trace_id: str, limit: int = 500) -> list[StoredLog]:
        return [row for row in self.logs if row.record.trace_id == trace_id][:limit]

    def services(self) -> list[str]:
        return sorted({s.service for s in self.spans})

    def operations(self, service: str | None = None) -> list[str]:
        return sorted({s.name for s in self.spans if service is None or s.service == service})

    def service_map(self, since_ns: int, until_ns: int) -> tuple[list[str], list[Edge]]:
        nodes = {s.service for s in self.spans}
        nodes |= {e.caller for e in self.edges} | {e.callee for e in self.edges}
        return sorted(nodes), list(self.edges)

    def red_series(
        self, since_ns: int, until_ns: int, step_seconds: int
    ) -> dict[str, list[RedPoint]]:
        return {}

    def counts(self) -> StoreCounts:
        return StoreCounts(
            spans=len(self.spans),
            traces=len({s.trace_id for s in self.spans}),
            logs=len(self.logs),
        )

    def close(self) -> None:
        pass


@dataclass
class FakeLab:
    """A ``LabDirectory`` that answers with statuses given in advance."""

    answers: list[ProcessStatus] = field(default_factory=list)

    @property
    def processes(self) -> tuple[LabProcess, ...]:
        return tuple(status.process for status in self.answers)

    async def statuses(self) -> list[ProcessStatus]:
        return list(self.answers)


_SELECTOR = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*')
_STAGE = re.compile(
    r'\s*(\|=|!=|\|~|!~)\s*"([^"]*)"|\s*\|\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*"([^"]*)"'
)
