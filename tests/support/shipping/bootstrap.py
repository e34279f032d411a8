"""Composition root of the test-only shipping service: a public API and nothing else."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from minishop.observability import SpanExporter
from minishop.platform.service_app import ServiceParts, create_service_app, service_telemetry
from tests.support.shipping import SHIPPING
from tests.support.shipping.settings import ShippingSettings


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/api/v1/shipping")
    async def shipments() -> dict[str, list[dict[str, object]]]:
        return {"items": []}

    @router.get("/api/v1/shipping/{shipment_id}")
    async def shipment(shipment_id: int) -> dict[str, object]:
        return {"id": shipment_id, "status": "pending"}

    return router


def create_app(
    settings: ShippingSettings, *, span_exporter: SpanExporter | None = None, **_wiring: object
) -> FastAPI:
    telemetry = service_telemetry(SHIPPING.name, settings, span_exporter)
    return create_service_app(
        ServiceParts(
            name=SHIPPING.name,
            description="Shipments (a service that exists for the tests).",
            telemetry=telemetry,
            routers=[_router()],
            settings=settings,
        )
    )
