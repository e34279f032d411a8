"""The one-service faults against the real processes of ``minishop up``, set by ``minishop chaos``.

In-process tests share one process between the five services; here each has its own, so
the orders leak shows in orders' own resident memory and nowhere else, and the log lines
are the ones a person reads in the terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.support.flags import chaos
from tests.support.observed import value
from tests.support.processes import RunningShop, shop_processes

pytestmark = pytest.mark.e2e

LEAK_KIB = 1024
LEAK_REQUESTS = 40


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    with shop_processes(tmp_path_factory.mktemp("faults"), {"PAYMENTS_FAILURE_RATE": "0"}) as up:
        yield up


def _metrics(shop: RunningShop, service: str) -> str:
    return httpx.get(f"{shop.urls[service]}/metrics", timeout=5).text


def _order(shop: RunningShop, product_id: int = 2) -> httpx.Response:
    return httpx.post(
        f"{shop.urls['gateway']}/order",
        json={"user_id": 1, "items": [{"product_id": product_id, "quantity": 1}]},
        timeout=10,
    )


def _lines(shop: RunningShop, service: str, text: str) -> list[dict]:
    return [
        line
        for name, line in shop.log_lines()
        if name == service and text in line.get("message", "")
    ]


def test_an_unreachable_provider_is_a_503_a_count_and_a_log_line(shop: RunningShop) -> None:
    order_id = _order(shop).json()["order_id"]
    chaos(shop, "set", "payment_unreachable", "on")
    try:
        refused = httpx.post(
            f"{shop.urls['gateway']}/payment/pay", json={"order_id": order_id}, timeout=10
        )
    finally:
        chaos(shop, "clear", "payment_unreachable")
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "provider-unreachable"
    metrics = _metrics(shop, "payments")
    assert value(metrics, "dependency_unreachable_total", dependency="payment-provider") == 1
    assert value(metrics, "error_total", reason="provider_unreachable") == 1
    (line,) = _lines(shop, "payments", "payment provider unreachable")
    assert line["order_id"] == order_id and line["level"] == "error"

    paid = httpx.post(
        f"{shop.urls['gateway']}/payment/pay", json={"order_id": order_id}, timeout=10
    )
    assert paid.status_code == 200, paid.text


def test_a_product_db_error_fails_that_product_only(shop: RunningShop) -> None:
    gateway = shop.urls["gateway"]
    chaos(shop, "set", "product_db_error", "3")
    try:
        failed = httpx.get(f"{gateway}/api/v1/products/3", timeout=5)
        other = httpx.get(f"{gateway}/api/v1/products/2", timeout=5)
        order = _order(shop, product_id=3)
    finally:
        chaos(shop, "clear", "product_db_error")
    assert failed.status_code == 503 and failed.json()["type"] == "database-unavailable"
    assert other.status_code == 200
    assert order.status_code == 503, order.text
    assert _lines(shop, "products", "database error on product 3")
    assert httpx.get(f"{gateway}/api/v1/products/3", timeout=5).status_code == 200


def test_the_orders_leak_grows_orders_memory_only_while_on(
    shop: RunningShop, record_property: Callable[[str, object], None]
) -> None:
    orders = shop.urls["orders"]

    def resident(service: str) -> float:
        return value(_metrics(shop, service), "process_resident_memory_bytes")

    def traffic() -> None:
        with httpx.Client(base_url=orders, timeout=5) as client:
            for _ in range(LEAK_REQUESTS):
                client.get("/api/v1/orders").raise_for_status()

    traffic()  # warm: whatever the first requests allocate anyway
    before, users_before = resident("orders"), resident("users")
    chaos(shop, "set", "orders_memory_leak", str(LEAK_KIB))
    try:
        traffic()
        grown = resident("orders")
    finally:
        chaos(shop, "clear", "orders_memory_leak")
    traffic()
    after = resident("orders")
    leaked = LEAK_KIB * 1024 * LEAK_REQUESTS  # 40 MiB
    assert grown - before >= 0.9 * leaked, (before, grown)
    assert after - grown < 0.25 * leaked, (grown, after)  # off: the growth stopped
    assert abs(resident("users") - users_before) < 0.25 * leaked  # orders' own memory
    record_property("orders_rss_bytes", {"before": before, "on": grown, "off": after})
