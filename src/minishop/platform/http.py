"""HTTP helpers shared by the services' API adapters and clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import httpx
import orjson
from fastapi import Depends, Header, Query, Request, Response
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from pydantic import BaseModel, PlainSerializer, SecretStr

from minishop.observability.httpx_transport import TracingTransport
from minishop.platform.access import INTERNAL_TOKEN_HEADER
from minishop.platform.aiohttp_transport import AiohttpTransport
from minishop.platform.idempotency import IdempotencyStore, StoredResponse, fingerprint

REPLAYED_HEADER = "Idempotent-Replayed"


def encode(payload: Any) -> bytes:
    if isinstance(payload, BaseModel):
        return payload.__pydantic_serializer__.to_json(payload)
    return orjson.dumps(payload)


async def idempotent_json(
    request: Request,
    store: IdempotencyStore,
    key: str | None,
    operation: Callable[[], Awaitable[tuple[int, Any]]],
) -> Response:
    """Run a write operation under the request's ``Idempotency-Key``, if it sent one."""

    async def run() -> StoredResponse:
        status, payload = await operation()
        return StoredResponse(status, encode(payload))

    headers: dict[str, str] = {}
    if key is None:
        stored = await run()
    else:
        body = await request.body()
        request_fingerprint = fingerprint(request.method, request.url.path, body)
        stored, replayed = await store.run(request.url.path, key, request_fingerprint, run)
        if replayed:
            headers[REPLAYED_HEADER] = "true"
    return Response(
        stored.body, status_code=stored.status_code, media_type="application/json", headers=headers
    )


def build_client(
    base_url: str,
    *,
    peer: str,
    tracer: trace.Tracer,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
    internal_token: SecretStr | None = None,
) -> httpx.AsyncClient:
    """A client for one downstream service, traced and with bounded time and connections.

    The network part is aiohttp (see ``aiohttp_transport``). Idle connections are
    dropped after 4 s, before uvicorn closes them at 5 s, so a request never goes out
    on a connection the server is closing. With ``internal_token`` every request carries
    it in ``X-Internal-Token``, the credential of the downstream's ``/internal`` routes;
    the gateway's clients get none, as they only ever call public routes.
    """
    inner = transport or AiohttpTransport(
        httpx.Limits(max_connections=100, max_keepalive_connections=50, keepalive_expiry=4.0)
    )
    headers = (
        {INTERNAL_TOKEN_HEADER: internal_token.get_secret_value()}
        if internal_token is not None
        else None
    )
    return httpx.AsyncClient(
        base_url=base_url,
        transport=TracingTransport(inner, tracer, peer),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        headers=headers,
    )


def liveness_check(client: httpx.AsyncClient) -> Callable[[], Awaitable[None]]:
    """Readiness check of a downstream service: it answers its liveness probe.

    Liveness, not readiness, so one failing database does not mark every caller
    unready in a cascade. Untraced: probes would otherwise fill the trace store.
    """

    async def check() -> None:
        with suppress_instrumentation():
            response = await client.get("/health/live")
        response.raise_for_status()

    return check


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Repeat a write safely: the same key and body never act twice.",
    ),
]


@dataclass(frozen=True)
class Page:
    """``?limit=&offset=`` of every list route."""

    limit: int
    offset: int


def page(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Page:
    return Page(limit=limit, offset=offset)


PageParams = Annotated[Page, Depends(page)]

ItemT = TypeVar("ItemT")


class PageOf(BaseModel, Generic[ItemT]):
    """One page of a list route: the items and the paging that produced them."""

    items: list[ItemT]
    limit: int
    offset: int

    @classmethod
    def of(cls, items: list[ItemT], page: Page) -> PageOf[ItemT]:
        return cls(items=items, limit=page.limit, offset=page.offset)


def cents_to_decimal(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def decimal_to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value())


Money = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float, when_used="json"),
]
"""An amount in the shop's currency: exact in Python, a plain JSON number on the wire."""
