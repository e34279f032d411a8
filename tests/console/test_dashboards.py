"""Dashboards: every Grafana file renders, panels answer from a fake Prometheus, or from spans."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from minishop.console.adapters.web.dashboards import build_dashboards_router, default_dashboards_dir
from minishop.console.application.panels import FALLBACK_NOTICE
from minishop.console.application.ports import RedPoint
from minishop.console.domain.dashboards import parse_dashboard
from minishop.console.settings import ConsoleSettings
from tests.console.fakes import TRACE_ID, FakeStore, Recorded, closed_port_url, fake_prometheus

DASHBOARDS = default_dashboards_dir()
FILES = sorted(DASHBOARDS.glob("*.json")) if DASHBOARDS else []
PROMETHEUS = "http://prometheus.test:9090"


def console(prometheus_url: str, store: FakeStore | None, recorded: Recorded | None) -> FastAPI:
    transport = httpx.ASGITransport(app=fake_prometheus(recorded)) if recorded else None
    app = FastAPI()
    app.include_router(
        build_dashboards_router(
            DASHBOARDS, prometheus_url, store, ConsoleSettings(), transport=transport
        )
    )
    return app


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
async def client(recorded: Recorded) -> AsyncIterator[httpx.AsyncClient]:
    app = console(PROMETHEUS, FakeStore(), recorded)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console.test"
    ) as http:
        yield http


@pytest.fixture
async def offline() -> AsyncIterator[tuple[httpx.AsyncClient, FakeStore]]:
    store = FakeStore(
        {
            "gateway": [RedPoint(0, rate=10.0, error_ratio=0.2, p95_ms=120.0)] * 3,
            "payments": [RedPoint(0, rate=2.0, error_ratio=0.5, p95_ms=300.0)] * 3,
        }
    )
    app = console(closed_port_url(), store, None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://console.test"
    ) as http:
        yield http, store


def test_the_four_dashboards_are_found() -> None:
    assert [path.name for path in FILES] == [
        "business.json",
        "golden-signals.json",
        "overview.json",
        "runtime.json",
    ]


RAW = {path.stem: json.loads(path.read_text()) for path in FILES}


@pytest.mark.parametrize("name", sorted(RAW))
async def test_every_dashboard_renders_every_panel(client: httpx.AsyncClient, name: str) -> None:
    raw = RAW[name]
    dashboard = parse_dashboard(raw)
    response = await client.get(f"/dashboards/{dashboard.uid}")
    assert response.status_code == 200
    page = response.text
    assert f"<h1>{dashboard.title}</h1>" in page
    panels = [item for item in raw["panels"] if item["type"] != "row"]
    for row in (item for item in raw["panels"] if item["type"] == "row"):
        assert f"<h2>{row['title']}</h2>" in page
    for panel in panels:
        assert f'id="panel-{panel["id"]}"' in page
        assert f"<h3>{panel['title']}</h3>" in page
        answer = await client.get(f"/api/dashboards/{dashboard.uid}/panels/{panel['id']}")
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["error"] is None
        assert body["series"], panel["title"]
        assert body["unit"] == panel["fieldConfig"]["defaults"]["unit"]


async def test_the_list_links_every_dashboard(client: httpx.AsyncClient) -> None:
    page = (await client.get("/dashboards")).text
    for uid in ("minishop-overview", "minishop-golden-signals", "minishop-business"):
        assert f'href="/dashboards/{uid}"' in page


async def test_the_overview_error_rate_has_a_red_ten_percent_line(
    client: httpx.AsyncClient,
) -> None:
    body = (await client.get("/api/dashboards/minishop-overview/panels/6?range=1h")).json()
    assert body["title"] == "Error rate by service"
    assert body["thresholds"] == [{"value": 0.1, "colour": "red", "red": True}]
    assert [series["name"] for series in body["series"]] == ["gateway", "payments"]
    assert len(body["timestamps"]) == len(body["series"][0]["values"]) == 121
    assert body["series"][0]["values"][0] == 0.25


async def test_a_stat_is_one_instant_value_formatted_and_coloured(
    client: httpx.AsyncClient, recorded: Recorded
) -> None:
    body = (await client.get("/api/dashboards/minishop-overview/panels/2")).json()
    assert body["stat"] == [{"name": "gateway", "value": 0.125, "text": "12.5%", "colour": "red"}]
    assert recorded.params("/api/v1/query")[0]["query"] == (
        'service:request_error:ratio_rate1m{service="gateway"}'
    )


async def test_the_service_variable_and_the_rate_interval_are_substituted(
    client: httpx.AsyncClient, recorded: Recorded
) -> None:
    await client.get("/api/dashboards/minishop-golden-signals/panels/2?service=payments&range=5m")
    queries = [params["query"] for params in recorded.params("/api/v1/query_range")]
    assert queries[0] == (
        "histogram_quantile(0.50, sum by (le) "
        '(rate(request_duration_seconds_bucket{service=~"payments"}[20s])))'
    )
    assert float(recorded.params("/api/v1/query_range")[0]["step"]) == 5


async def test_all_services_is_the_variable_regex(
    client: httpx.AsyncClient, recorded: Recorded
) -> None:
    await client.get("/api/dashboards/minishop-runtime/panels/2")
    (params,) = recorded.params("/api/v1/query_range")
    assert params["query"] == 'requests_in_flight{service=~".+"}'


async def test_the_service_select_is_filled_from_prometheus(client: httpx.AsyncClient) -> None:
    page = (await client.get("/dashboards/minishop-golden-signals?service=orders")).text
    options = re.findall(r'<option value="([^"]+)"', page)
    assert options[:3] == ["gateway", "orders", "payments"]
    assert '<option value="orders" selected>' in page


async def test_latency_panels_carry_exemplars_linking_traces(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/dashboards/minishop-overview/panels/7")).json()
    assert body["exemplars"]
    exemplar = body["exemplars"][0]
    assert exemplar["trace_id"] == TRACE_ID
    assert exemplar["value"] == 0.42
    assert exemplar["series"] == "gateway"


async def test_a_refused_query_is_a_message_in_the_panel(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/graph", params={"expr": "syntax error("})
    assert response.status_code == 200
    assert response.json()["error"] == "Prometheus refused the query: parse error at char 7"


async def test_unknown_panels_and_ranges_are_problems(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/dashboards/minishop-overview/panels/99")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    bad_range = await client.get("/api/dashboards/minishop-overview/panels/5?range=2y")
    assert bad_range.status_code == 400
    assert "range must be one of 5m, 15m, 1h, 6h" in bad_range.json()["detail"]
    assert (await client.get("/dashboards/nope")).status_code == 404
    page = await client.get("/dashboards/minishop-overview?range=2y")
    assert page.status_code == 200
    assert "Unknown range" in page.text


async def test_without_prometheus_the_overview_comes_from_spans(
    offline: tuple[httpx.AsyncClient, FakeStore],
) -> None:
    client, store = offline
    rate = (await client.get("/api/dashboards/minishop-overview/panels/5?range=5m")).json()
    assert rate["source"] == "traces"
    assert rate["notice"] == FALLBACK_NOTICE == "computed from traces: Prometheus is not reachable"
    assert [series["name"] for series in rate["series"]] == ["gateway", "payments"]
    assert rate["series"][0]["values"][:3] == [10.0, 10.0, 10.0]
    assert rate["series"][0]["values"][3] == 0.0  # no spans in that bucket: no requests
    assert store.calls[0][2] == 5

    total = (await client.get("/api/dashboards/minishop-overview/panels/1")).json()
    assert total["stat"][0]["value"] == 12.0
    errors = (await client.get("/api/dashboards/minishop-overview/panels/2")).json()
    assert errors["stat"][0] | {"name": "gateway"} == {
        "name": "gateway",
        "value": 0.2,
        "text": "20%",
        "colour": "red",
    }
    p95 = (await client.get("/api/dashboards/minishop-overview/panels/7")).json()
    assert [series["values"][0] for series in p95["series"]] == [0.12, 0.3]


async def test_without_prometheus_other_panels_say_so(
    offline: tuple[httpx.AsyncClient, FakeStore],
) -> None:
    client, _ = offline
    response = await client.get("/api/dashboards/minishop-overview/panels/4")
    assert response.status_code == 200
    body = response.json()
    assert body["error"].startswith("Prometheus is not reachable")
    assert body["series"] == []
    page = await client.get("/dashboards/minishop-golden-signals")
    assert page.status_code == 200
    assert "services seen in traces" in page.text


async def test_explore_page_charts_the_generator_expression(client: httpx.AsyncClient) -> None:
    page = await client.get("/graph", params={"g0.expr": "up == 0", "g0.tab": "1"})
    assert page.status_code == 200
    assert "up == 0</textarea>" in page.text
    assert 'data-url="/api/graph?expr=up%20%3D%3D%200&amp;range=15m"' in page.text
    body = (await client.get("/api/graph", params={"expr": "up == 0", "range": "5m"})).json()
    assert len(body["series"]) == 2
