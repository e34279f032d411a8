"""The load generator's plain parts: what a shopper decides, how answers are judged, the
command line and the printed figures. (Nothing here imports Locust: it patches the
standard library of the process that imports it.)"""

from __future__ import annotations

import random
import sys

import pytest

from minishop.loadgen.journeys import (
    BAD_REQUESTS,
    FLOOR_STOCK,
    MAX_QUANTITY,
    Catalog,
    Pacer,
    baggage_header,
    failure_of,
    flood_name,
    flood_path,
    new_session_id,
    new_user,
    seed_products,
)
from minishop.loadgen.options import API_KEY_VARIABLE, OptionError, parse_options
from minishop.loadgen.report import RouteRow, progress_line, summary_lines


def test_importing_the_plain_parts_patches_nothing() -> None:
    assert "gevent" not in sys.modules
    assert "locust" not in sys.modules


def test_every_request_is_marked_synthetic_with_its_session() -> None:
    session = new_session_id(random.Random(1))
    assert len(session) == 16 and int(session, 16) >= 0
    assert baggage_header(session) == f"synthetic_request=true,session.id={session}"
    assert baggage_header("a b,c") == "synthetic_request=true,session.id=a%20b%2Cc"


@pytest.mark.parametrize(
    ("status", "expected", "failure"),
    [
        (200, {200}, None),
        (402, {200, 402, 409}, None),  # a declined payment is an answer, not a failure
        (409, {201, 409}, None),  # an order refused for stock
        (422, {422}, None),
        (500, {200}, "server error 500"),
        (503, {200, 503}, None),  # only when a caller expects it
        (0, {200}, "no answer (connection error or timeout)"),
        (404, {200}, "unexpected status 404 (expected 200)"),
        (201, {200, 402}, "unexpected status 201 (expected 200, 402)"),
    ],
)
def test_which_answers_are_failures(status: int, expected: set[int], failure: str | None) -> None:
    assert failure_of(status, frozenset(expected)) == failure


def test_orders_never_take_a_product_below_the_floor() -> None:
    catalog = Catalog()
    catalog.learn([{"id": 1, "stock": FLOOR_STOCK + 3}, {"id": 2, "stock": 500}])
    rng = random.Random(7)
    taken = {1: 0, 2: 0}
    for _ in range(2000):
        lines = catalog.order_lines(rng)
        if lines is None:
            break
        assert 1 <= len(lines) <= 2
        for line in lines:
            assert 1 <= line["quantity"] <= MAX_QUANTITY
            taken[line["product_id"]] += line["quantity"]
    assert taken[1] == 3  # down to the floor, never under it
    assert catalog.stock == {1: FLOOR_STOCK, 2: FLOOR_STOCK}
    assert catalog.order_lines(rng) is None  # nothing to spare: the journey only browses


def test_the_catalog_learns_from_answers_and_forgets_refused_stock() -> None:
    catalog = Catalog()
    assert catalog.empty and catalog.random_id(random.Random()) is None
    catalog.learn([{"id": 3, "stock": 40}, {"id": "x", "stock": 1}, {"name": "no id"}])
    assert catalog.stock == {3: 40}
    catalog.forget_stock(3)
    assert catalog.order_lines(random.Random()) is None
    catalog.learn([{"id": 3, "stock": 90}])  # the next listing says the supplier came
    assert catalog.order_lines(random.Random(2)) is not None


def test_created_users_and_products_are_unique_to_the_session() -> None:
    assert new_user("ab12", 1) != new_user("ab12", 2)
    assert new_user("ab12", 1)["email"] == "load-ab12-1@example.com"
    skus = [product["sku"] for product in seed_products("ab12") + seed_products("cd34")]
    assert len(set(skus)) == len(skus) == 6
    assert all(product["stock"] > FLOOR_STOCK for product in seed_products("ab12"))


def test_bad_requests_expect_a_client_error_only() -> None:
    assert len(BAD_REQUESTS) >= 5
    for bad in BAD_REQUESTS:
        assert bad.expected and all(400 <= status < 500 for status in bad.expected), bad
        assert bad.path.startswith("/") and bad.name.startswith("/")


def test_a_flood_route_with_a_placeholder_asks_for_known_ids() -> None:
    rng = random.Random(3)
    assert flood_path("/api/v1/products", [4, 5], rng) == "/api/v1/products"
    assert flood_path("/api/v1/products/{product_id}", [4, 5], rng) in {
        "/api/v1/products/4",
        "/api/v1/products/5",
    }
    assert flood_path("/api/v1/orders/{order_id}", [], rng) == "/api/v1/orders/1"
    assert flood_name("/api/v1/payments") == "/api/v1/payments (flood)"


def test_the_pacer_holds_the_rate_and_does_not_burst_after_a_stall() -> None:
    pacer = Pacer(rate=20, started=100.0)
    assert pacer.due(100.0) == 0
    assert pacer.due(100.5) == 10
    assert pacer.due(100.5) == 0  # nothing more is owed until time passes
    assert sum(pacer.due(100.5 + step / 20) for step in range(1, 11)) == 10
    assert pacer.due(130.0) == 20  # 29 s stalled: at most one second's worth at once
    assert pacer.due(130.1) == 2


def test_the_generator_options_are_checked() -> None:
    options = parse_options(
        ["--host", "http://127.0.0.1:8080/", "--users", "3", "--spawn-rate", "1.5"],
        {API_KEY_VARIABLE: "k1"},
    )
    assert options.host == "http://127.0.0.1:8080"
    assert (options.users, options.spawn_rate, options.api_key) == (3, 1.5, "k1")
    assert parse_options(["--host", "http://h:1"], {}).api_key is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--host", "127.0.0.1:8080"], "--host must be an http"),
        (["--host", "http://h", "--users", "0"], "--users must be at least 1"),
        (["--host", "http://h", "--spawn-rate", "0"], "--spawn-rate must be above 0"),
        (["--host", "http://h", "--duration", "-1"], "--duration must be 0"),
        (["--host", "http://h", "--think-min", "3", "--think-max", "1"], "--think-min"),
        (["--host", "http://h", "--web", "--web-port", "70000"], "--web-port"),
        (["--host", "http://h", "--autostart"], "--autostart only applies with --web"),
        (["--host", "http://h", "--log-level", "loud"], "--log-level"),
    ],
)
def test_a_bad_generator_option_is_one_clear_message(argv: list[str], message: str) -> None:
    with pytest.raises(OptionError, match=message):
        parse_options(argv, {})


def test_the_progress_line_says_requests_failures_and_rate() -> None:
    line = progress_line(12.4, 5, 200, 3, 16.55, None)
    assert line == "[load]    12 s  users 5    requests 200     failures 3 (1.5%)  rate 16.6 req/s"
    assert progress_line(1, 1, 0, 0, 0.0, "30 req/s to GET /x").endswith("flood 30 req/s to GET /x")


def test_the_summary_has_a_row_per_route_and_a_total() -> None:
    rows = [
        RouteRow("POST", "/order", 10, 1, 40.0, 120.0, {"201": 8, "409": 1, "500": 1}),
        RouteRow("GET", "/api/v1/products", 30, 0, 12.0, 30.0, {"200": 30}),
    ]
    total = RouteRow("", "total", 40, 1, 15.0, 100.0, {"200": 30, "201": 8, "409": 1, "500": 1})
    lines = summary_lines(rows, 10.0, total)
    assert lines[0] == "Load summary: 40 requests in 10.0 s (4.0 req/s), 1 failures"
    assert lines[1].split() == [
        "method",
        "route",
        "requests",
        "failures",
        "p50",
        "ms",
        "p95",
        "ms",
        "statuses",
    ]
    assert lines[2].split() == ["GET", "/api/v1/products", "30", "0", "12", "30", "200:30"]
    assert lines[3].split() == ["POST", "/order", "10", "1", "40", "120", "201:8", "409:1", "500:1"]
    assert lines[4].split()[:3] == ["total", "40", "1"]
