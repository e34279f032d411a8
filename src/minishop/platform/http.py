"""HTTP helpers shared by the services' API adapters and clients."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

import httpx
import orjson
from fastapi import Depends, Header, Path, Query, Request, Response
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    SecretStr,
)

from minishop.observability import ServiceMetrics
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


class ConnectFailureCounter(httpx.AsyncBaseTransport):
    """Counts the calls that never reached the peer in ``dependency_unreachable_total``.

    Only failures to connect (refused, no route, a connect timeout): the peer is not
    there at all, which is a different incident from a peer that answers slowly or
    with a 5xx (those show in its own metrics and in the caller's spans).
    """

    def __init__(
        self, wrapped: httpx.AsyncBaseTransport, metrics: ServiceMetrics, peer: str
    ) -> None:
        self._wrapped = wrapped
        self._metrics = metrics
        self._peer = peer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._wrapped.handle_async_request(request)
        except (httpx.ConnectError, httpx.ConnectTimeout):
            self._metrics.unreachable(self._peer)
            raise

    async def aclose(self) -> None:
        await self._wrapped.aclose()


def build_client(
    base_url: str,
    *,
    peer: str,
    tracer: trace.Tracer | None,
    timeout: float,
    transport: httpx.AsyncBaseTransport | None = None,
    internal_token: SecretStr | None = None,
    metrics: ServiceMetrics | None = None,
) -> httpx.AsyncClient:
    """A client for one downstream service, traced and with bounded time and connections.

    The network part is aiohttp (see ``aiohttp_transport``). Idle connections are
    dropped after 4 s, before uvicorn closes them at 5 s, so a request never goes out
    on a connection the server is closing. With ``internal_token`` every request carries
    it in ``X-Internal-Token``, the credential of the downstream's ``/internal`` routes;
    the gateway's clients get none, as they only ever call public routes. With ``metrics``
    a call that cannot connect to the peer counts in ``dependency_unreachable_total``.
    With ``tracer`` None (zero-code mode) the client makes no span and injects no context
    itself: the contrib aiohttp-client instrumentation under it does both.
    """
    inner = transport or AiohttpTransport(
        httpx.Limits(max_connections=100, max_keepalive_connections=50, keepalive_expiry=4.0)
    )
    if metrics is not None:
        inner = ConnectFailureCounter(inner, metrics, peer)
    headers = (
        {INTERNAL_TOKEN_HEADER: internal_token.get_secret_value()}
        if internal_token is not None
        else None
    )
    return httpx.AsyncClient(
        base_url=base_url,
        transport=TracingTransport(inner, tracer, peer) if tracer is not None else inner,
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


INTEGER_MAX = 2**31 - 1
"""The largest value an ``INTEGER`` column holds on both databases.

PostgreSQL's ``integer`` is 32-bit; SQLite's holds 64 bits. The smaller bound is the
one a value must fit to be stored anywhere, so every id and count checks against it.
"""

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_OFFSET = INTEGER_MAX
"""An ``OFFSET`` beyond any row count the tables can hold; larger is refused, not sent to SQL."""


def bounded_int(minimum: int, maximum: int, **field: Any) -> Any:
    """A JSON integer in ``[minimum, maximum]``, strictly: ``"1"``, ``true``, ``1.0`` are refused.

    Lax coercion would let a client's type bug pass silently (``true`` as quantity 1);
    the bounds keep the value inside what the column holds, so the database never
    raises on it. Each service builds its ids and quantities from its domain's limits,
    e.g. ``bounded_int(1, MAX_QUANTITY)``.
    """
    return Annotated[int, Field(strict=True, ge=minimum, le=maximum, **field)]


def id_exists_in_range(value: int, maximum: int = INTEGER_MAX) -> bool:
    """Whether a path id could name a row at all.

    The rule for path ids everywhere: a value that is not an integer is malformed
    (422, from validation); an integer no column can hold names nothing, so it is
    answered like any other missing row (404) without touching the database.
    """
    return 1 <= value <= maximum


PathId = Annotated[
    int,
    Path(description="The resource's id; one that cannot exist answers 404.", examples=[1]),
]


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise ValueError("must not contain unpaired surrogate characters")
    return value


SafeText = Annotated[str, AfterValidator(_storable)]
"""Text every database can store: no NUL (PostgreSQL refuses it) and no lone surrogates
(they have no UTF-8 encoding). Compose with ``Field(max_length=...)`` for the column's size."""


def is_storable_text(value: str) -> bool:
    """``SafeText``'s rule for values checked by hand (path segments)."""
    try:
        _storable(value)
    except ValueError:
        return False
    return True


def _json_number(value: object) -> object:
    if isinstance(value, bool | str):
        raise ValueError("must be a JSON number, not a string or boolean")
    return value


def bounded_number(minimum: float, maximum: float) -> Any:
    """A finite JSON number in ``[minimum, maximum]``; strings and booleans are refused."""
    return Annotated[
        float, BeforeValidator(_json_number), Field(ge=minimum, le=maximum, allow_inf_nan=False)
    ]


def money_in(minimum_exclusive: Decimal, maximum: Decimal) -> Any:
    """An amount in ``(minimum_exclusive, maximum]`` with at most 2 decimals, as a JSON number.

    Strings and booleans are refused like ids are; infinities and NaN are refused by
    the bounds. ``maximum`` is where the cents column stops holding it.
    """
    return Annotated[
        Decimal,
        BeforeValidator(_json_number),
        Field(gt=minimum_exclusive, le=maximum, decimal_places=2, allow_inf_nan=False),
        PlainSerializer(float, return_type=float, when_used="json"),
    ]


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


async def page(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=MAX_PAGE_OFFSET)] = 0,
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


Money = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float, when_used="json"),
]
"""An amount in the shop's currency: exact in Python, a plain JSON number on the wire.

Convert with ``minishop.platform.money`` (``cents_to_amount`` / ``amount_to_cents``)."""
