"""The payment provider's faults (CONTRACT §9), switched with the flags, seen in telemetry.

``payment_failure PERCENT`` declines that share of charges; ``payment_unreachable`` makes
the provider refuse connections: the payment ends ``failed`` (``provider_unreachable``,
nothing charged) and the client gets a 503 problem. A call that cannot connect to a peer
service counts in ``dependency_unreachable_total`` as well.
"""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from opentelemetry.trace import StatusCode

from minishop.observability.logging import configure_logging, get_logger
from minishop.payments.adapters import http_api as payments_api
from minishop.payments.domain.model import FAILURE_REASONS
from tests.support.flags import switch_off, switch_on
from tests.support.helpers import assert_problem, order_body
from tests.support.observed import flag_events, log_lines, value
from tests.support.shop import Shop, running_shop


async def _new_order(client: httpx.AsyncClient) -> int:
    created = await client.post("/order", json=order_body())
    assert created.status_code == 201, created.text
    return created.json()["order_id"]


async def test_payment_failure_declines_that_share_and_the_gauge_shows_the_rate(
    sqlite_shop: Shop,
) -> None:
    async with sqlite_shop.client("payments") as payments, sqlite_shop.client() as client:
        base = value((await payments.get("/metrics")).text, "payment_provider_failure_rate")
        assert base == 0.0  # running_shop's base rate

        switch_on(sqlite_shop, "payment_failure", "100")
        order_id = await _new_order(client)
        declined = await client.post("/payment/pay", json={"order_id": order_id})
        assert declined.status_code == 402, declined.text
        assert declined.json()["reason"] in FAILURE_REASONS
        metrics = (await payments.get("/metrics")).text
        assert value(metrics, "payment_provider_failure_rate") == 1.0
        assert value(metrics, "payments_total", result="failed") == 1
        assert value(metrics, "error_total", reason=declined.json()["reason"]) == 1

        (process,) = [s for s in sqlite_shop.finished_spans() if s.name == "ProcessPayment"]
        (event,) = flag_events(process, "payment_failure")
        assert event["feature_flag.variant"] == "on"
        assert event["feature_flag.result.value"] == 100
        assert process.status.status_code is StatusCode.ERROR

        switch_off(sqlite_shop, "payment_failure")
        paid = await client.post("/payment/pay", json={"order_id": order_id})
        assert paid.status_code == 200, paid.text
        metrics = (await payments.get("/metrics")).text
        assert value(metrics, "payment_provider_failure_rate") == base
        assert value(metrics, "payments_total", result="succeeded") == 1
        spans = [s for s in sqlite_shop.finished_spans() if s.name == "ProcessPayment"]
        assert not flag_events(spans[-1], "payment_failure")  # off: the charge was not changed


async def test_payment_failure_declines_about_its_share(tmp_path: Path) -> None:
    async with running_shop(tmp_path, record_spans=False) as shop, shop.client() as client:
        switch_on(shop, "payment_failure", "50")
        results = []
        for _ in range(40):
            order_id = await _new_order(client)
            paid = await client.post("/payment/pay", json={"order_id": order_id})
            results.append(paid.status_code)
    declined = results.count(402)
    assert results.count(200) + declined == 40
    # Binomial(40, 0.5): outside 8..32 has a probability below 1e-4.
    assert 8 <= declined <= 32, results


async def test_an_unreachable_provider_fails_the_payment_without_a_500(
    sqlite_shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.BytesIO()
    configure_logging("payments", "INFO", stream=stream)
    # A module's logger keeps the output it first wrote to (structlog caches it): a fresh
    # one writes to this stream even when an earlier test used the module's already.
    monkeypatch.setattr(payments_api, "_log", get_logger("minishop.payments"))
    async with sqlite_shop.client("payments") as payments, sqlite_shop.client() as client:
        order_id = await _new_order(client)
        switch_on(sqlite_shop, "payment_unreachable", "on")
        refused = await client.post("/payment/pay", json={"order_id": order_id})

        problem = assert_problem(refused, 503)
        assert problem["type"] == "provider-unreachable"
        assert problem["reason"] == "provider_unreachable"
        assert refused.headers["retry-after"] == "1"
        payment = (await client.get(f"/api/v1/payments/{problem['payment_id']}")).json()
        assert (payment["status"], payment["reason"]) == ("failed", "provider_unreachable")
        order = (await client.get(f"/api/v1/orders/{order_id}")).json()
        assert order["status"] == "payment_failed"  # told, so it can be paid again

        metrics = (await payments.get("/metrics")).text
        assert value(metrics, "error_total", reason="provider_unreachable", status="503") == 1
        assert value(metrics, "payments_total", result="failed", reason="provider_unreachable")
        assert value(metrics, "dependency_unreachable_total", dependency="payment-provider") == 1
        assert value(metrics, "revenue_total") == 0

        (process,) = [s for s in sqlite_shop.finished_spans() if s.name == "ProcessPayment"]
        assert process.status.status_code is StatusCode.ERROR
        assert process.attributes["payment.failure_reason"] == "provider_unreachable"
        (exception,) = [e for e in process.events if e.name == "exception"]
        assert "Connect call failed" in exception.attributes["exception.message"]
        (event,) = flag_events(process, "payment_unreachable")
        assert event["feature_flag.variant"] == "on"

        lines = [
            line
            for line in log_lines(stream.getvalue().decode())
            if "payment provider unreachable" in line.get("message", "")
        ]
        assert len(lines) == 1, lines
        assert lines[0]["level"] == "error"
        assert lines[0]["order_id"] == order_id
        assert "payment failed" in lines[0]["message"]  # found by the usual search too

        switch_off(sqlite_shop, "payment_unreachable")
        paid = await client.post("/payment/pay", json={"order_id": order_id})
        assert paid.status_code == 200, paid.text
        assert (await client.get(f"/api/v1/orders/{order_id}")).json()["status"] == "paid"
        metrics = (await payments.get("/metrics")).text
        assert value(metrics, "dependency_unreachable_total", dependency="payment-provider") == 1


async def test_the_openapi_document_says_what_an_unreachable_provider_answers(
    sqlite_shop: Shop,
) -> None:
    async with sqlite_shop.client("payments") as payments:
        schema = (await payments.get("/openapi.json")).json()
    answer = schema["paths"]["/api/v1/payments"]["post"]["responses"]["503"]
    assert "application/problem+json" in answer["content"]
    assert "provider-unreachable" in answer["description"]
    assert "/admin/provider" not in schema["paths"]


class Refused(httpx.AsyncBaseTransport):
    """A link to a peer whose port refuses connections."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


async def test_a_peer_that_refuses_connections_counts_as_unreachable(tmp_path: Path) -> None:
    async with (
        running_shop(tmp_path, orders_link=lambda _link: Refused()) as shop,
        shop.client("payments") as payments,
    ):
        refused = await payments.post("/api/v1/payments", json={"order_id": 1})
        assert assert_problem(refused, 503)["type"] == "dependency-unavailable"
        metrics = (await payments.get("/metrics")).text
    # the request's attempt, and any readiness probe of orders that ran meanwhile
    assert value(metrics, "dependency_unreachable_total", dependency="orders") >= 1
    assert value(metrics, "dependency_unreachable_total", dependency="payment-provider") == 0
