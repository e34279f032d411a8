"""Fake Prometheus, Alertmanager and Slack receiver: small FastAPI apps with canned answers.

Each records the requests it received so a test can check what the console asked for.
Tests reach them through ``httpx.ASGITransport`` (no socket) or a ``HostRouting`` transport
when one console router talks to several of them.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from minishop.console.application.ports import RedPoint

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
