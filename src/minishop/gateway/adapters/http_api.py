"""The gateway's public routes: two shortcuts and each public service's resource API."""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel

from minishop.gateway.adapters.proxy import Proxy
from minishop.gateway.application.admission import (
    Admission,
    AuthThrottled,
    RateLimited,
    Unauthorized,
)
from minishop.gateway.domain.routing import (
    SHORTCUTS,
    MalformedPath,
    NoPublicRoute,
    PublicApis,
    Route,
    check_forwardable,
)
from minishop.observability import mark_failure
from minishop.platform.problems import Problem

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_REASON = re.compile(r"[a-z][a-z0-9_]{0,63}")


def declined_reason(body: bytes) -> str | None:
    """The reason a declined payment's 402 gives (``{"reason": "card_declined", ...}``).

    The gateway counts the decline in ``error_total`` under the same reason as payments
    does. None when the body names none, or names something other than a short
    snake_case word: the reason becomes a metric label, whose values must stay few, and
    without one the request is counted as ``http_402`` like any other unexplained 402.
    """
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    reason = document.get("reason") if isinstance(document, dict) else None
    return reason if isinstance(reason, str) and _REASON.fullmatch(reason) else None


def build_router(proxy: Proxy, admission: Admission, services: Sequence[str]) -> APIRouter:
    """``services``: those whose ``/api/v1/<service>`` is public (the manifest says which)."""

    async def admit(
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

    async def forward(route_of: RouteOf, request: Request) -> Response:
        response = await proxy.forward(public_route(route_of, request), request)
        if response.status_code == 402 and (reason := declined_reason(response.body)):
            mark_failure(request, reason)
        return response

    @router.post("/order", status_code=201, tags=["shop"], summary="Place an order")
    async def place_order(request: Request) -> Response:
        return await forward(lambda: SHORTCUTS[("POST", "/order")], request)

    @router.post("/payment/pay", tags=["shop"], summary="Pay an order")
    async def pay(request: Request) -> Response:
        return await forward(lambda: SHORTCUTS[("POST", "/payment/pay")], request)

    apis = PublicApis(frozenset(services))
    for service in services:
        router.add_api_route(
            f"/api/v1/{service}",
            _collection_handler(apis, service, forward),
            methods=METHODS,
            tags=[service],
            name=f"{service}_collection",
        )
        router.add_api_route(
            f"/api/v1/{service}/{{path:path}}",
            _item_handler(apis, service, forward),
            methods=METHODS,
            tags=[service],
            name=f"{service}_item",
        )
    return router


RouteOf = Callable[[], Route]
Forward = Callable[[RouteOf, Request], Awaitable[Response]]


def public_route(route_of: RouteOf, request: Request) -> Route:
    """The route to forward to, once the request's path proved to be in normal form.

    The path is checked as sent (``raw_path``) and as decoded before the route is
    worked out, so an encoded dot-segment is a 400 and never reaches a service.
    """
    decoded: str = request.scope["path"]
    raw_path: bytes | None = request.scope.get("raw_path")
    raw = raw_path.split(b"?", 1)[0].decode("latin-1") if raw_path is not None else decoded
    try:
        check_forwardable(raw, decoded)
        return route_of()
    except MalformedPath as exc:
        raise Problem(400, str(exc), type_="invalid-path") from exc
    except NoPublicRoute as exc:
        raise Problem(404, str(exc), type_="not-found") from exc


def _collection_handler(
    apis: PublicApis, service: str, forward: Forward
) -> Callable[[Request], Awaitable[Response]]:
    async def handler(request: Request) -> Response:
        return await forward(lambda: apis.route(service), request)

    return handler


def _item_handler(
    apis: PublicApis, service: str, forward: Forward
) -> Callable[[str, Request], Awaitable[Response]]:
    async def handler(path: str, request: Request) -> Response:
        return await forward(lambda: apis.route(service, path), request)

    return handler


class ApiIndex(BaseModel):
    """What the gateway's root answers: where the API and its documentation are."""

    service: str
    docs: str
    openapi: str
    routes: list[str]


def build_index_router(services: Sequence[str]) -> APIRouter:
    """``GET /``: the shop's base URL opens on something a person can read and follow.

    It names only public paths, needs no API key (it reveals nothing the OpenAPI does
    not) and is not rate limited apart from the service's own limits.
    """
    router = APIRouter()
    public = [
        "POST /order",
        "POST /payment/pay",
        *(f"/api/v1/{service}" for service in services),
    ]

    @router.get("/", response_model=ApiIndex, tags=["shop"], summary="Where the API is")
    async def index() -> ApiIndex:
        return ApiIndex(service="gateway", docs="/docs", openapi="/openapi.json", routes=public)

    return router
