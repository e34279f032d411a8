"""The JSON API's shapes (CONTRACT section 8) and its errors, over the fake store."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from minishop.console.adapters.web.api import build_api_router
from minishop.console.application.ports import Edge
from minishop.console.domain.records import LogRecord
from minishop.platform.problems import install_problem_handlers
from tests.console.fakes import NS, MemoryStore, span

T1 = "1" * 32
T2 = "2" * 32
BASE = 1_700_000_000 * NS


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    store.write_spans(
        [
            span(T1, "a" * 16, service="gateway", name="POST /order", end_ms=120),
            span(
                T1,
                "b" * 16,
                "a" * 16,
                service="orders",
                name="CreateOrder",
                start_ms=5,
                end_ms=100,
                **{"order.id": 42},
            ),
            span(
                T2,
                "c" * 16,
                service="gateway",
                name="POST /payment/pay",
                start_ms=1000,
                end_ms=1030,
                status="error",
            ),
        ]
    )
    store.write_logs(
        [
            LogRecord(BASE, "orders", "info", "order created", T1, "b" * 16, {"order.id": 42}),
            LogRecord(BASE + NS, "payments", "error", "payment failed: card_declined", T2),
            LogRecord(BASE + 2 * NS, "gateway", "info", "request served"),
        ]
    )
    store.edges = [Edge("gateway", "orders", 10, 1, 0.5, 12.5)]
    return store


@pytest.fixture
async def client(store: MemoryStore) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    app.include_router(build_api_router(store))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://console") as client:
        yield client


async def test_traces_newest_first_with_the_contract_fields(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/traces")).json()
    assert [t["trace_id"] for t in body["traces"]] == [T2, T1]
    assert body["traces"][1] == {
        "trace_id": T1,
        "root_service": "gateway",
        "root_name": "POST /order",
        "start": "2023-11-14T22:13:20.000Z",
        "duration_ms": 120.0,
        "span_count": 2,
        "error": False,
    }
    assert body["traces"][0]["error"] is True


async def test_trace_filters_reach_the_store(client: httpx.AsyncClient, store: MemoryStore) -> None:
    answer = await client.get(
        "/api/traces",
        params={
            "service": "orders",
            "operation": "CreateOrder",
            "status": "ok",
            "min_duration_ms": "50",
            "attr": "order.id=42",
            "since": "2023-11-14T22:00:00Z",
            "limit": "5",
        },
    )
    assert [t["trace_id"] for t in answer.json()["traces"]] == [T1]
    query = store.last_trace_query
    assert query is not None
    assert (query.service, query.operation, query.status) == ("orders", "CreateOrder", "ok")
    assert query.attribute == ("order.id", "42") and query.limit == 5
    assert query.since_ns == BASE - 13 * 60 * NS - 20 * NS


async def test_relative_since_is_before_now(client: httpx.AsyncClient, store: MemoryStore) -> None:
    before = time.time_ns()
    await client.get("/api/traces", params={"since": "15m"})
    after = time.time_ns()
    assert store.last_trace_query is not None and store.last_trace_query.since_ns is not None
    assert before - 15 * 60 * NS <= store.last_trace_query.since_ns <= after - 15 * 60 * NS


@pytest.mark.parametrize(
    ("params", "status", "word"),
    [
        ({"status": "broken"}, 422, "status"),
        ({"limit": "0"}, 422, "limit"),
        ({"limit": "100000"}, 422, "limit"),
        ({"min_duration_ms": "fast"}, 422, "min_duration_ms"),
        ({"attr": "no-equals"}, 400, "attr"),
        ({"since": "yesterday"}, 400, "since"),
        ({"since": "99999d"}, 400, "since"),
    ],
)
async def test_bad_trace_parameters_are_problems(
    client: httpx.AsyncClient, params: dict[str, str], status: int, word: str
) -> None:
    answer = await client.get("/api/traces", params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert word in answer.json()["detail"]


async def test_one_trace_has_every_span(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"/api/traces/{T1}")).json()
    assert body["trace_id"] == T1
    first, second = body["spans"]
    assert set(first) == {
        "span_id",
        "parent_span_id",
        "service",
        "name",
        "kind",
        "start",
        "duration_ms",
        "status",
        "attributes",
        "events",
    }
    assert first["parent_span_id"] is None and second["parent_span_id"] == "a" * 16
    assert second["attributes"] == {"order.id": 42} and second["duration_ms"] == 95.0


@pytest.mark.parametrize("trace_id", ["f" * 32, "not-hex", "F" * 40])
async def test_unknown_trace_is_a_404_problem(client: httpx.AsyncClient, trace_id: str) -> None:
    answer = await client.get(f"/api/traces/{trace_id}")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert "No trace" in answer.json()["detail"]


async def test_logs_newest_first_with_the_contract_fields(client: httpx.AsyncClient) -> None:
    body = (
        await client.get("/api/logs", params={"query": '{app="minishop"} |= "payment failed"'})
    ).json()
    assert body == {
        "logs": [
            {
                "timestamp": "2023-11-14T22:13:21.000Z",
                "service": "payments",
                "level": "error",
                "message": "payment failed: card_declined",
                "trace_id": T2,
                "span_id": None,
                "attributes": {},
            }
        ]
    }
    everything = (await client.get("/api/logs")).json()["logs"]
    assert [line["service"] for line in everything] == ["gateway", "payments", "orders"]


async def test_invalid_log_query_says_where(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/logs", params={"query": '{app="minishop"} oops'})
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["position"] == 17 and problem["column"] == 18
    assert "column 18" in problem["detail"]


async def test_bad_log_limits_and_times_are_problems(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/logs", params={"limit": "5000"})).status_code == 422
    assert (await client.get("/api/logs", params={"since": "soon"})).status_code == 400


async def test_services_map(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/services")).json()
    assert body == {
        "nodes": ["gateway", "orders"],
        "edges": [
            {"from": "gateway", "to": "orders", "rate": 0.5, "error_rate": 0.1, "p95_ms": 12.5}
        ],
    }
    assert (await client.get("/api/services", params={"window": "1h"})).status_code == 200
    assert (await client.get("/api/services", params={"window": "wide"})).status_code == 400
    assert (await client.get("/api/services", params={"window": "0m"})).status_code == 400
