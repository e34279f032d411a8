"""The gateway's public routes: two shortcuts and the four resource APIs."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from minishop.gateway.adapters.proxy import Proxy
from minishop.gateway.application.admission import (
    Admission,
    AuthThrottled,
    RateLimited,
    Unauthorized,
)
from minishop.gateway.domain.routing import SERVICES, SHORTCUTS, Route, resource_route
from minishop.observability import mark_failure
from minishop.platform.problems import Problem

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def build_router(proxy: Proxy, admission: Admission) -> APIRouter:
    def admit(
        request: Request,
        api_key: Annotated[str | None, Header(alias="X-API-Key")] = None,
    ) -> None:
        peer = request.client.host if request.client else None
        forwarded_for = (
            request.headers.getlist("x-forwarded-for") if admission.reads_forwarded_for else ()
        )
        try:
            admission.admit(api_key, peer, forwarded_for)
        except Unauthorized as exc:
            raise Problem(401, str(exc), type_="unauthorized") from exc
        except RateLimited as exc:
            raise Problem(
                429,
                str(exc),
                type_="auth-throttled" if isinstance(exc, AuthThrottled) else "rate-limited",
                headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))},
            ) from exc

    router = APIRouter(dependencies=[Depends(admit)])

    async def forward(route: Route, request: Request) -> Response:
        response = await proxy.forward(route, request)
        if response.status_code == 402:
            mark_failure(request, "payment_declined")
        return response

    @router.post("/order", status_code=201, tags=["shop"], summary="Place an order")
    async def place_order(request: Request) -> Response:
        return await forward(SHORTCUTS[("POST", "/order")], request)

    @router.post("/payment/pay", tags=["shop"], summary="Pay an order")
    async def pay(request: Request) -> Response:
        return await forward(SHORTCUTS[("POST", "/payment/pay")], request)

    for service in SERVICES:
        router.add_api_route(
            f"/api/v1/{service}",
            _collection_handler(service, forward),
            methods=METHODS,
            tags=[service],
            name=f"{service}_collection",
        )
        router.add_api_route(
            f"/api/v1/{service}/{{path:path}}",
            _item_handler(service, forward),
            methods=METHODS,
            tags=[service],
            name=f"{service}_item",
        )
    return router


Forward = Callable[[Route, Request], Awaitable[Response]]


def _collection_handler(service: str, forward: Forward) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        return await forward(resource_route(service), request)

    return handler


def _item_handler(service: str, forward: Forward) -> Callable[[str, Request], Awaitable[Response]]:
    async def handler(path: str, request: Request) -> Response:
        return await forward(resource_route(service, path), request)

    return handler
