"""The SQLite store through its port: search, traces, logs, service map, RED, retention."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from minishop.console.adapters.sqlite_store import SqliteTelemetryStore
from minishop.console.application.ports import TraceQuery
from minishop.console.domain.logql import LabelMatcher, LineFilter, LogQuery, parse_logql
from tests.console.records import MS, log, span, span_id, trace_id

T0 = 1_700_000_000_000_000_000
ORDER = trace_id(1)  # gateway -> orders, 120 ms, order.id=42, ok
LISTING = trace_id(2)  # gateway -> products, 5 ms, product.id=7, error


@pytest.fixture
def shop(sqlite_store: SqliteTelemetryStore) -> SqliteTelemetryStore:
    store = sqlite_store
    gateway, client, orders = span_id(), span_id(), span_id()
    store.write_spans(
        [
            # The child arrives before its root: the summary takes the root once it comes.
            span(
                ORDER,
                "orders",
                "CreateOrder",
                start_ns=T0 + 10 * MS,
                duration_ms=100,
                parent=client,
                span=orders,
                **{"order.id": 42, "order.paid": True},
            ),
            span(
                ORDER,
                "gateway",
                "POST /order",
                start_ns=T0 + 5 * MS,
                duration_ms=105,
                parent=gateway,
                span=client,
                kind="client",
            ),
        ]
    )
    store.write_spans(
        [span(ORDER, "gateway", "POST /order", start_ns=T0, duration_ms=120, span=gateway)]
    )
    root, call = span_id(), span_id()
    store.write_spans(
        [
            span(
                LISTING,
                "gateway",
                "GET /products",
                start_ns=T0 + 1000 * MS,
                duration_ms=5,
                span=root,
            ),
            span(
                LISTING,
                "gateway",
                "GET products",
                start_ns=T0 + 1001 * MS,
                duration_ms=3,
                parent=root,
                span=call,
                kind="client",
                status="error",
            ),
            span(
                LISTING,
                "products",
                "ListProducts",
                start_ns=T0 + 1002 * MS,
                duration_ms=2,
                parent=call,
                status="error",
                **{"product.id": "7"},
            ),
        ]
    )
    store.write_logs(
        [
            log("order created", timestamp_ns=T0 + 50 * MS, trace=ORDER, span=orders),
            log(
                "payment failed: card declined",
                timestamp_ns=T0 + 60 * MS,
                level="error",
                trace=ORDER,
                span=orders,
            ),
            log("listing", timestamp_ns=T0 + 1002 * MS, service="products", trace=LISTING),
            log("outside any trace", timestamp_ns=T0 + 2000 * MS, service="gateway"),
        ]
    )
    return store


def found(store: SqliteTelemetryStore, **query: object) -> list[str]:
    return [summary.trace_id for summary in store.search_traces(TraceQuery(**query))]


def test_the_summary_is_the_roots_once_it_arrives(shop: SqliteTelemetryStore) -> None:
    listing, order = shop.search_traces(TraceQuery())  # newest first
    assert (order.trace_id, order.root_service, order.root_name) == (
        ORDER,
        "gateway",
        "POST /order",
    )
    assert (order.start_ns, order.duration_ns, order.span_count) == (T0, 120 * MS, 3)
    assert order.services == ("gateway", "orders") and not order.error
    assert listing.trace_id == LISTING and listing.error and listing.span_count == 3


def test_the_summary_is_the_earliest_span_while_the_root_is_missing(
    sqlite_store: SqliteTelemetryStore,
) -> None:
    store = sqlite_store
    trace = trace_id(9)
    store.write_spans([span(trace, "orders", "late", start_ns=T0 + 5, parent="ab" * 8)])
    store.write_spans([span(trace, "products", "early", start_ns=T0, parent="cd" * 8)])
    (summary,) = store.search_traces(TraceQuery())
    assert (summary.root_service, summary.root_name) == ("products", "early")


@pytest.mark.parametrize(
    ("query", "matching", "not_matching"),
    [
        ({"service": "orders"}, {"service": "orders"}, {"service": "payments"}),
        (
            {"operation": "CreateOrder"},
            {"service": "orders", "operation": "CreateOrder"},
            {"service": "gateway", "operation": "CreateOrder"},
        ),
        (
            {"status": "ok"},
            {"status": "ok", "service": "orders"},
            {"status": "error", "service": "orders"},
        ),
        ({"min_duration_ms": 100}, {"min_duration_ms": 120}, {"min_duration_ms": 121}),
        (
            {"attribute": ("order.id", "42")},
            {"attribute": ("order.paid", "true")},
            {"attribute": ("order.id", "43")},
        ),
        (
            {"since_ns": T0},
            {"since_ns": T0, "until_ns": T0},
            {"since_ns": T0 + 1, "until_ns": T0 + 999 * MS},
        ),
    ],
)
def test_each_filter_finds_the_order_trace_and_can_miss_it(
    shop: SqliteTelemetryStore, query: dict, matching: dict, not_matching: dict
) -> None:
    assert ORDER in found(shop, **query)
    assert found(shop, **matching) == [ORDER]
    assert ORDER not in found(shop, **not_matching)


def test_error_status_and_attribute_filters_find_the_failed_listing(
    shop: SqliteTelemetryStore,
) -> None:
    assert found(shop, status="error") == [LISTING]
    assert found(shop, attribute=("product.id", "7"), service="products") == [LISTING]
    assert found(shop, attribute=("product.id", "7"), service="orders") == []
    assert found(shop, limit=1) == [LISTING]


def test_get_trace_gives_every_span_by_start(shop: SqliteTelemetryStore) -> None:
    spans = shop.get_trace(ORDER.upper())
    assert [s.name for s in spans] == ["POST /order", "POST /order", "CreateOrder"]
    assert spans[2].attributes == {"order.id": 42, "order.paid": True}
    assert spans[2].resource == {"service.name": "orders"}
    assert shop.get_trace(trace_id(404)) == []


def test_trace_logs_are_the_traces_lines_oldest_first(shop: SqliteTelemetryStore) -> None:
    assert [stored.record.message for stored in shop.trace_logs(ORDER)] == [
        "order created",
        "payment failed: card declined",
    ]
    assert shop.trace_logs(trace_id(404)) == []
    assert shop.trace_logs("") == []


def test_log_queries_newest_first_with_time_and_live_tail_bounds(
    shop: SqliteTelemetryStore,
) -> None:
    everything = LogQuery(selectors=())
    logs = shop.query_logs(everything)
    assert [stored.record.message for stored in logs][:2] == ["outside any trace", "listing"]
    failed = LogQuery(
        selectors=(LabelMatcher("service", "=", "orders"),),
        pipeline=(LineFilter("|=", "payment failed"),),
    )
    (hit,) = shop.query_logs(failed)
    assert hit.record.level == "error" and hit.record.attributes == {"logger": "test"}
    assert shop.query_logs(failed, since_ns=T0 + 61 * MS) == []
    assert len(shop.query_logs(everything, until_ns=T0 + 50 * MS)) == 1
    newest = max(stored.id for stored in logs)
    assert shop.query_logs(everything, after_id=newest) == []
    assert len(shop.query_logs(everything, after_id=newest - 1)) == 1
    assert len(shop.query_logs(everything, limit=2)) == 2


def test_services_and_operations(shop: SqliteTelemetryStore) -> None:
    assert shop.services() == ["gateway", "orders", "products"]
    assert shop.operations("gateway") == ["GET /products", "GET products", "POST /order"]
    assert "CreateOrder" in shop.operations()


def test_the_service_map_joins_children_to_parents_of_another_service(
    shop: SqliteTelemetryStore,
) -> None:
    nodes, edges = shop.service_map(T0, T0 + 10_000 * MS)
    assert nodes == ["gateway", "orders", "products"]
    by_pair = {(edge.caller, edge.callee): edge for edge in edges}
    assert set(by_pair) == {("gateway", "orders"), ("gateway", "products")}
    to_products = by_pair[("gateway", "products")]
    assert (to_products.requests, to_products.errors, to_products.p95_ms) == (1, 1, 2.0)
    assert to_products.rate == pytest.approx(1 / 10)
    assert by_pair[("gateway", "orders")].errors == 0
    assert shop.service_map(T0 + 5000 * MS, T0 + 6000 * MS) == ([], [])


def test_red_series_buckets_server_spans_per_service(shop: SqliteTelemetryStore) -> None:
    series = shop.red_series(T0, T0 + 2000 * MS, step_seconds=1)
    assert set(series) == {"gateway", "orders", "products"}  # client spans are not counted
    first, second = series["gateway"]
    assert (first.time_ns, first.rate, first.error_ratio, first.p95_ms) == (T0, 1.0, 0.0, 120.0)
    assert (second.time_ns, second.rate, second.p95_ms) == (T0 + 1000 * MS, 1.0, 5.0)
    assert series["products"][1].error_ratio == 1.0
    assert series["products"][0].rate == 0.0


def test_retention_by_count_holds_under_a_flood_oldest_first(tmp_path: Path) -> None:
    deleted: list[tuple[str, str, int]] = []
    store = SqliteTelemetryStore(
        tmp_path / "t.db",
        max_spans=300,
        max_logs=250,
        max_age_seconds=3600,
        on_retention=lambda *event: deleted.append(event),
    )
    try:
        now = time.time_ns()
        for batch in range(40):
            store.write_spans(
                [
                    span(trace_id(batch * 10 + n), "orders", "op", start_ns=now + batch * 1000 + n)
                    for n in range(10)
                ]
                * 1
            )
            store.write_logs([log(f"{batch}-{n}", timestamp_ns=now + batch) for n in range(25)])
            if batch % 10 == 9:
                counts = store.enforce_retention(now)
                assert counts.spans <= 300 and counts.logs <= 250
        counts = store.counts()
        assert (counts.spans, counts.traces, counts.logs) == (300, 300, 250)
        kept = {summary.trace_id for summary in store.search_traces(TraceQuery(limit=1000))}
        assert kept == {trace_id(n) for n in range(100, 400)}  # the newest
        assert found(store, service="orders", since_ns=now, until_ns=now + 9_999) == []
        assert len(found(store, service="orders", since_ns=now + 10_000, limit=500)) == 300
        assert {(signal, reason) for signal, reason, _ in deleted} == {
            ("spans", "count"),
            ("logs", "count"),
        }
        assert sum(n for signal, _, n in deleted if signal == "spans") == 100
    finally:
        store.close()


def test_retention_by_age_takes_traces_with_their_spans_terms_and_logs(tmp_path: Path) -> None:
    store = SqliteTelemetryStore(
        tmp_path / "t.db", max_spans=1000, max_logs=1000, max_age_seconds=60
    )
    try:
        now = time.time_ns()
        old, new = now - 120 * 1_000_000_000, now - 1_000_000_000
        store.write_spans([span(trace_id(1), "orders", "old", start_ns=old, **{"k": "v"})])
        store.write_spans([span(trace_id(2), "orders", "new", start_ns=new, **{"k": "v"})])
        store.write_logs([log("old", timestamp_ns=old), log("new", timestamp_ns=new)])
        counts = store.enforce_retention(now)
        assert (counts.spans, counts.traces, counts.logs) == (1, 1, 1)
        assert found(store, attribute=("k", "v")) == [trace_id(2)]
        assert store.get_trace(trace_id(1)) == []
        assert store.operations("orders") == ["new"]
        assert [s.record.message for s in store.query_logs(LogQuery(selectors=()))] == ["new"]
    finally:
        store.close()


def test_counts_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    store = SqliteTelemetryStore(path, max_spans=10, max_logs=10, max_age_seconds=60)
    store.write_spans([span(trace_id(1), "orders", "op", start_ns=T0)])
    store.write_logs([log("x", timestamp_ns=T0)])
    store.close()
    again = SqliteTelemetryStore(path, max_spans=10, max_logs=10, max_age_seconds=60)
    try:
        assert again.counts() == store.counts()
        assert (again.counts().spans, again.counts().logs) == (1, 1)
    finally:
        again.close()


def test_a_declined_payment_counts_as_an_error_on_the_map_and_in_red(tmp_path: Path) -> None:
    """error_total counts a 402 (CONTRACT section 3); its server span keeps status unset, as the
    HTTP conventions want for a 4xx, and names the reason in ``error.type`` instead."""
    store = SqliteTelemetryStore(
        tmp_path / "t.db", max_spans=1000, max_logs=1000, max_age_seconds=3600
    )
    try:
        trace = trace_id(7)
        root = span(trace, "gateway", "POST /payment/pay", start_ns=T0, duration_ms=30)
        declined = span(
            trace,
            "payments",
            "POST /api/v1/payments",
            start_ns=T0 + MS,
            duration_ms=20,
            parent=root.span_id,
            **{"http.response.status_code": 402, "error.type": "card_declined"},
        )
        paid = span(trace_id(8), "payments", "POST /api/v1/payments", start_ns=T0 + 40 * MS)
        store.write_spans([root, declined, paid])
        _, (edge,) = store.service_map(T0, T0 + 1000 * MS)
        assert (edge.caller, edge.callee, edge.requests, edge.errors) == (
            "gateway",
            "payments",
            1,
            1,
        )
        (point,) = store.red_series(T0, T0 + 1000 * MS, step_seconds=1)["payments"]
        assert point.error_ratio == 0.5
    finally:
        store.close()


def test_a_query_for_one_traces_lines_reads_them_through_the_trace_index(
    sqlite_store: SqliteTelemetryStore,
) -> None:
    wanted, other = trace_id(41), trace_id(42)
    sqlite_store.write_logs(
        [
            log("first", timestamp_ns=T0, trace=wanted),
            log("second", timestamp_ns=T0 + MS, trace=wanted),
            log("elsewhere", timestamp_ns=T0 + 2 * MS, trace=other),
            log("outside", timestamp_ns=T0 + 3 * MS),
        ]
    )
    query = parse_logql(f'{{service="orders"}} | trace_id="{wanted}"')
    found = sqlite_store.query_logs(query, limit=10)
    assert [stored.record.message for stored in found] == ["second", "first"]
    plan = (
        sqlite_store._reader()
        .execute(  # the point of it: no scan of every line
            "EXPLAIN QUERY PLAN SELECT id FROM logs INDEXED BY logs_trace"
            " WHERE trace_id = ? AND trace_id != ''",
            (wanted,),
        )
        .fetchall()
    )
    assert "logs_trace" in str(plan)
