"""One vocabulary for a declined payment's ``error_total`` reason (CONTRACT §3).

Payments, the gateway in front of it and the shared middleware all count a decline
under the business reason the payment gives (``card_declined``, ...); a 402 that
gives none is ``http_402``, like any failure without a known reason.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from minishop.gateway.adapters.http_api import declined_reason
from minishop.observability import mark_failure, setup_telemetry
from minishop.payments.domain.model import FAILURE_REASONS
from minishop.payments.settings import PaymentsSettings
from minishop.platform.service_app import ServiceParts, create_service_app
from tests.support.flags import switch_on
from tests.support.helpers import order_body
from tests.support.shop import Shop


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"status": "failed", "reason": "card_declined"}', "card_declined"),
        (b'{"status": "failed", "reason": "interrupted"}', "interrupted"),
        (b'{"status": "failed"}', None),
        (b'{"status": "failed", "reason": null}', None),
        (b'{"status": "failed", "reason": 7}', None),
        (b'{"status": "failed", "reason": "Card Declined!"}', None),
        (b'{"status": "failed", "reason": "' + b"x" * 65 + b'"}', None),
        (b'["card_declined"]', None),
        (b"Payment Required", None),
        (b"", None),
    ],
)
def test_the_gateway_reads_a_declines_reason_from_its_body(body: bytes, reason: str | None) -> None:
    assert declined_reason(body) == reason


def _errors(metrics_text: str) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["route"], sample.labels["reason"]): sample.value
        for family in text_string_to_metric_families(metrics_text)
        if family.name == "error"
        for sample in family.samples
        if sample.name == "error_total"
    }


def _app_answering_402() -> FastAPI:
    router = APIRouter()

    @router.post("/unexplained")
    async def unexplained() -> Response:
        return Response(b"{}", status_code=402, media_type="application/json")

    @router.post("/explained")
    async def explained(request: Request) -> Response:
        mark_failure(request, "card_declined")
        return Response(b"{}", status_code=402, media_type="application/json")

    telemetry = setup_telemetry(
        "payments", version="test", environment="test", span_exporter=InMemorySpanExporter()
    )
    return create_service_app(
        ServiceParts(
            name="payments",
            description="402s.",
            telemetry=telemetry,
            routers=[router],
            settings=PaymentsSettings(max_body_bytes=1024, body_read_timeout_seconds=10.0),
        )
    )


async def test_a_402_without_a_marked_reason_is_counted_as_http_402() -> None:
    transport = httpx.ASGITransport(app=_app_answering_402())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert (await client.post("/unexplained")).status_code == 402
        assert (await client.post("/explained")).status_code == 402
        errors = _errors((await client.get("/metrics")).text)
    assert errors == {("/unexplained", "http_402"): 1.0, ("/explained", "card_declined"): 1.0}


async def test_payments_and_the_gateway_count_a_decline_under_the_payments_reason(
    sqlite_shop: Shop,
) -> None:
    async with sqlite_shop.client("payments") as payments, sqlite_shop.client() as gateway:
        order_id = (await gateway.post("/order", json=order_body())).json()["order_id"]
        switch_on(sqlite_shop, "payment_failure", "100")
        declined = await gateway.post("/payment/pay", json={"order_id": order_id})
        assert declined.status_code == 402, declined.text
        reason = declined.json()["reason"]
        assert reason in FAILURE_REASONS
        at_payments = _errors((await payments.get("/metrics")).text)
        at_gateway = _errors((await gateway.get("/metrics")).text)
    assert at_payments == {("/api/v1/payments", reason): 1.0}
    assert at_gateway == {("/payment/pay", reason): 1.0}
    # The server spans say the same (what the console's map and RED panels count as errors).
    declined_spans = {
        (span.resource.attributes["service.name"], span.name): span.attributes.get("error.type")
        for span in sqlite_shop.finished_spans()
        if span.kind is SpanKind.SERVER and span.attributes.get("http.response.status_code") == 402
    }
    assert declined_spans == {
        ("payments", "POST /api/v1/payments"): reason,
        ("gateway", "POST /payment/pay"): reason,
    }
