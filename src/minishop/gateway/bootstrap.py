"""Composition root of the gateway: the one place its parts are wired."""

from __future__ import annotations

import time
from collections.abc import Mapping

import httpx
from fastapi import FastAPI

from minishop.gateway.adapters import http_api
from minishop.gateway.adapters.proxy import Proxy
from minishop.gateway.application.admission import Admission
from minishop.gateway.domain.client_address import ClientResolver
from minishop.gateway.domain.rate_limit import FailureThrottle, RateLimiter
from minishop.gateway.settings import GATEWAY, GatewaySettings
from minishop.manifest import MANIFEST, Manifest
from minishop.observability import SpanExporter
from minishop.platform.http import build_client, liveness_check
from minishop.platform.openapi import ResponseRule
from minishop.platform.service_app import ServiceParts, create_service_app, service_telemetry

SERVICE = GATEWAY.name
PUBLIC_PREFIXES = ("/api/v1", "/order", "/payment/pay")
PROXY_RESPONSES = [
    # First: the first rule naming a status documents it.
    ResponseRule(
        (409,),
        ("/payment/pay", "/api/v1/payments"),
        methods=frozenset({"POST"}),
        description="The order cannot be paid (`order-not-payable`, nothing charged), or it"
        " closed while the charge ran (`order-closed`): the charge was refunded.",
    ),
    # The gateway's own answers (keys, rate limit, upstream down or slow) and every
    # problem a service answers to what it is sent, passed on as it is.
    ResponseRule((400, 401, 404, 405, 409, 413, 422, 429, 502, 503, 504), PUBLIC_PREFIXES),
    ResponseRule(
        (201,),
        PUBLIC_PREFIXES,
        methods=frozenset({"POST"}),
        media_type="application/json",
        description="Created, as the service answers it.",
    ),
    ResponseRule(
        (402,),
        ("/payment/pay", "/api/v1/payments"),
        methods=frozenset({"POST"}),
        media_type="application/json",
        description="The provider declined the charge (the payment is in the body).",
    ),
]


def create_app(
    settings: GatewaySettings,
    *,
    span_exporter: SpanExporter | None = None,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    manifest: Manifest = MANIFEST,
) -> FastAPI:
    """Routes and downstream clients follow ``manifest``: one per service with a public API.

    ``transports`` replaces the network per service (tests run the services in-process).
    """
    telemetry = service_telemetry(SERVICE, settings, span_exporter)
    transports = transports or {}
    downstream = manifest.downstream(manifest.service(SERVICE))
    clients = {
        service.name: build_client(
            settings.url_of(service),
            peer=service.name,
            tracer=telemetry.instrumentation_tracer,
            timeout=settings.http_timeout_seconds,
            transport=transports.get(service.name),
            metrics=telemetry.metrics,  # dependency_unreachable_total, as every caller counts
        )
        for service in downstream
    }
    public = [service.name for service in manifest.public]
    admission = Admission(
        settings.api_keys,
        RateLimiter(
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            time.monotonic,
            max_clients=settings.rate_limit_max_clients,
        ),
        FailureThrottle(
            settings.auth_failure_limit,
            settings.auth_failure_window_seconds,
            settings.auth_failure_block_seconds,
            time.monotonic,
            max_clients=settings.rate_limit_max_clients,
        ),
        ClientResolver(settings.trusted_proxies),
    )

    async def close_clients() -> None:
        for client in clients.values():
            await client.aclose()

    return create_service_app(
        ServiceParts(
            name=SERVICE,
            description="The one door clients use: routing, API keys and rate limits.",
            telemetry=telemetry,
            routers=[
                http_api.build_index_router(public),
                http_api.build_router(Proxy(clients), admission, public),
            ],
            settings=settings,
            readiness={service: liveness_check(client) for service, client in clients.items()},
            on_shutdown=[close_clients],
            problem_rules=PROXY_RESPONSES,
        )
    )
