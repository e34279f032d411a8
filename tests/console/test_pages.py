"""The console's pages over the fake store: each renders with data and empty, keeps its
state in the query string, and says what is wrong with bad input."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html import unescape

import httpx
import pytest
from fastapi import FastAPI

from minishop.console.adapters.web import pages
from minishop.console.adapters.web.pages import build_pages_router, mount_static
from minishop.console.application.lab import LabProcess, ProcessStatus
from minishop.console.application.ports import Edge
from minishop.console.domain.records import LogRecord
from minishop.console.settings import ConsoleSettings
from tests.console.fakes import NS, FakeLab, MemoryStore, span

T1 = "1" * 32
T2 = "2" * 32
BASE = 1_700_000_000 * NS


def _store() -> MemoryStore:
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
                T1,
                "c" * 16,
                "b" * 16,
                service="products",
                name="DeductInventory",
                start_ms=20,
                end_ms=60,
                status="error",
            ),
            span(
                T2,
                "d" * 16,
                service="gateway",
                name="POST /payment/pay",
                start_ms=1000,
                end_ms=1030,
            ),
        ]
    )
    store.write_logs(
        [
            LogRecord(BASE, "orders", "info", "order created", T1, "b" * 16, {"order.id": 42}),
            LogRecord(BASE + NS, "payments", "error", "payment failed: card_declined", T2),
            LogRecord(BASE + 2 * NS, "gateway", "info", "request served <b>"),
        ]
    )
    store.edges = [
        Edge("gateway", "orders", 100, 1, 1.5, 40.0),
        Edge("orders", "products", 100, 30, 1.5, 12.0),
    ]
    return store


def _lab() -> FakeLab:
    users = LabProcess("users", "http://127.0.0.1:8001", "service", docs=True)
    prometheus = LabProcess(
        "prometheus", "http://127.0.0.1:9090", "server", "/-/ready", live_path="/-/healthy"
    )
    return FakeLab(
        [
            ProcessStatus(users, "ready", version="1.2.3", uptime_seconds=3700, restarts=2),
            ProcessStatus(prometheus, "down", detail="connection refused"),
        ]
    )


async def _client(store: MemoryStore, lab: FakeLab) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(build_pages_router(store, lab, ConsoleSettings(refresh_seconds=7)))
    mount_static(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")


@pytest.fixture(autouse=True)
def vendor_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "vendor_available", lambda name: True)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(_store(), _lab()) as client:
        yield client


@pytest.fixture
async def empty() -> AsyncIterator[httpx.AsyncClient]:
    async with await _client(MemoryStore(), FakeLab()) as client:
        yield client


def text_of(answer: httpx.Response) -> str:
    return unescape(re.sub(r"\s+", " ", answer.text))


async def test_home_lists_processes_with_health_and_links(client: httpx.AsyncClient) -> None:
    answer = await client.get("/")
    assert answer.status_code == 200
    page = text_of(answer)
    assert "1.2.3" in page and "1 h 1 min" in page and "connection refused" in page
    assert 'href="/traces?service=users"' in page
    assert "/logs?query=%7Bservice%3D%22users%22%7D" in answer.text
    assert "http://127.0.0.1:8001/docs" in page and "http://127.0.0.1:9090/docs" not in page
    assert "http://127.0.0.1:9090/-/ready" in page
    words = re.sub(r"<[^>]+>", "", page)
    assert "Spans stored: 4 in 2 traces" in words and "Log lines stored: 3" in words
    assert "http://console:4318" in page
    assert "console tool" in re.sub(r"<[^>]+>", "", page)  # the console's own row
    assert 'href="/traces?service=console"' not in page
    assert 'hx-trigger="every 7s' in answer.text


async def test_home_renders_empty(empty: httpx.AsyncClient) -> None:
    answer = await empty.get("/")
    assert answer.status_code == 200 and "Spans stored: 0" in re.sub(r"<[^>]+>", "", answer.text)


async def test_traces_lists_newest_first_with_links(client: httpx.AsyncClient) -> None:
    answer = await client.get("/traces", params={"since": "24000h"})
    assert answer.status_code == 400  # more than a year back: said, not a 500
    answer = await client.get("/traces", params={"since": "2023-11-14T00:00:00Z"})
    assert answer.status_code == 200
    page = answer.text
    assert page.index(f"/traces/{T2}") < page.index(f"/traces/{T1}")
    assert "POST /order" in page and 'class="badge error"' in page
    assert "2023-11-14T22:13:20.000Z" in page


async def test_traces_form_keeps_its_state(client: httpx.AsyncClient) -> None:
    params = {
        "service": "orders",
        "operation": "CreateOrder",
        "status": "error",
        "min_duration_ms": "5",
        "attr": "order.id=42",
        "since": "2023-11-14T00:00:00Z",
        "limit": "50",
    }
    answer = await client.get("/traces", params=params)
    page = answer.text
    assert '<option value="orders" selected>' in page
    assert '<option value="CreateOrder" selected>' in page
    assert '<option value="error" selected>' in page
    assert 'value="order.id=42"' in page and 'value="5"' in page
    assert 'value="2023-11-14T00:00:00Z"' in page and '<option value="50" selected>' in page
    assert f"/traces/{T1}" in page and f"/traces/{T2}" not in page
    paused = await client.get("/traces", params={**params, "refresh": "off"})
    assert "hx-trigger" not in paused.text and "resume" in paused.text
    assert 'name="refresh" value="off"' in paused.text


async def test_traces_bad_input_is_explained(client: httpx.AsyncClient) -> None:
    answer = await client.get(
        "/traces", params={"attr": "oops", "min_duration_ms": "fast", "status": "meh"}
    )
    assert answer.status_code == 400
    page = text_of(answer)
    assert "'oops' is not key=value" in page and "'fast' is not a number" in page
    assert "'meh' is not ok or error" in page


async def test_traces_render_empty(empty: httpx.AsyncClient) -> None:
    answer = await empty.get("/traces")
    assert answer.status_code == 200 and "No trace matches" in answer.text


async def test_trace_waterfall_marks_tree_critical_path_and_errors(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.get(f"/traces/{T1}")
    assert answer.status_code == 200
    page = answer.text
    rows = re.findall(r'<details class="wf-row([^"]*)" id="span-(\w+)">', page)
    assert [span_id for _, span_id in rows] == ["a" * 16, "b" * 16, "c" * 16]
    assert all("critical" in css for css, _ in rows)
    assert "span-error" in rows[2][0]
    assert "padding-left: 28px" in page  # the grandchild is indented twice
    assert "order.id" in page and "42" in page  # span attributes in the detail
    assert "order created" in page and "orders: CreateOrder" in page  # the log, with its span


async def test_unknown_trace_is_a_404_page(client: httpx.AsyncClient) -> None:
    for trace_id in ("f" * 32, "nonsense"):
        answer = await client.get(f"/traces/{trace_id}")
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        assert "Trace not found" in answer.text


async def test_logs_newest_first_with_trace_links(client: httpx.AsyncClient) -> None:
    answer = await client.get("/logs", params={"since": "2023-11-14T00:00:00Z"})
    assert answer.status_code == 200
    page = answer.text
    rows = page[page.index('id="log-rows"') :]
    assert rows.index("request served") < rows.index("payment failed") < rows.index("order created")
    assert "request served &lt;b&gt;" in page  # escaped
    assert f'href="/traces/{T2}"' in page and f'href="/traces/{T1}#span-{"b" * 16}"' in page
    assert (
        'value="{app=&#34;minishop&#34;}"' in page or 'value="{app=&quot;minishop&quot;}"' in page
    )
    assert 'class="level level-error"' in page and "<details><summary>order created" in page


async def test_logs_query_filters_and_keeps_state(client: httpx.AsyncClient) -> None:
    query = '{app="minishop"} |= "payment failed"'
    answer = await client.get("/logs", params={"query": query, "since": "2023-11-14T00:00:00Z"})
    page = text_of(answer)
    rows = page[page.index('id="log-rows"') :]
    assert "payment failed" in rows and "order created" not in rows
    assert f'value="{query}"' in page


async def test_invalid_log_query_shows_where_with_400(client: httpx.AsyncClient) -> None:
    answer = await client.get("/logs", params={"query": '{app="minishop"} oops'})
    assert answer.status_code == 400
    caret = re.search(r'<pre class="caret">(.*?)</pre>', answer.text, re.S)
    assert caret is not None
    line, marker = unescape(caret.group(1)).split("\n")
    assert line == '{app="minishop"} oops' and marker == " " * 17 + "^"
    assert "column 18" in answer.text


async def test_logs_render_empty(empty: httpx.AsyncClient) -> None:
    answer = await empty.get("/logs")
    assert answer.status_code == 200 and "No log line matches" in answer.text


async def test_live_tail_returns_only_newer_rows(client: httpx.AsyncClient) -> None:
    page = await client.get("/logs", params={"tail": "on", "since": "2023-11-14T00:00:00Z"})
    assert 'id="tail-poller"' in page.text and "after=3" in page.text
    answer = await client.get("/logs/tail", params={"query": '{app="minishop"}', "after": "1"})
    assert answer.status_code == 200
    ids = re.findall(r'data-id="(\d+)"', answer.text)
    assert ids == ["3", "2"]
    assert "after=3" in answer.text  # the poller asks next for what comes after the newest
    nothing = await client.get("/logs/tail", params={"query": '{app="minishop"}', "after": "3"})
    assert re.findall(r'data-id="(\d+)"', nothing.text) == [] and "after=3" in nothing.text
    bad = await client.get("/logs/tail", params={"query": "{", "after": "1"})
    assert bad.status_code == 400
    assert (await client.get("/logs/tail", params={"after": "x"})).status_code == 400


async def test_map_draws_edges_and_the_table(client: httpx.AsyncClient) -> None:
    answer = await client.get("/map", params={"window": "1h"})
    assert answer.status_code == 200
    page = answer.text
    assert '<option value="1h" selected>' in page
    assert '<svg class="service-map"' in page
    assert 'data-from="gateway" data-to="orders"' in page
    assert re.search(r'class="edge error-heavy" data-from="orders" data-to="products"', page)
    assert "1.50 req/s · 30.0% err" in page and "p95 12 ms" in page
    assert 'class="row-error"' in page


async def test_map_renders_empty_and_rejects_a_bad_window(empty: httpx.AsyncClient) -> None:
    answer = await empty.get("/map")
    assert answer.status_code == 200 and "No span in the last 15m" in answer.text
    assert "<svg" not in answer.text
    assert (await empty.get("/map", params={"window": "forever"})).status_code == 400


async def test_pages_say_when_front_end_files_are_missing(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "vendor_available", lambda name: False)
    for path in ("/", "/traces", f"/traces/{T1}", "/logs", "/map"):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert "Front-end files missing" in answer.text
        assert "hx-trigger" not in answer.text and "htmx.min.js" not in answer.text


async def test_stylesheet_is_served(client: httpx.AsyncClient) -> None:
    answer = await client.get("/static/console.css")
    assert answer.status_code == 200 and "text/css" in answer.headers["content-type"]
