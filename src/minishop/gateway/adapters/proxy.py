"""Forwards a client's request to the service that answers it."""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx
from fastapi import Request, Response

from minishop.gateway.domain.routing import Route
from minishop.platform.problems import Problem

FORWARDED_REQUEST_HEADERS = ("content-type", "accept", "idempotency-key", "x-request-id")
FORWARDED_RESPONSE_HEADERS = ("content-type", "retry-after", "idempotent-replayed", "location")
# RFC 9110 field values are visible ASCII, spaces and tabs; anything else (a byte the
# server decoded as latin-1) cannot be sent on by the HTTP client and means nothing here.
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e]*")


def forwarded_headers(request: Request) -> dict[str, str]:
    """The request headers a service needs, refused with a 400 unless they can be sent on."""
    headers: dict[str, str] = {}
    for name in FORWARDED_REQUEST_HEADERS:
        value = request.headers.get(name)
        if value is None:
            continue
        if _FIELD_VALUE.fullmatch(value) is None:
            raise Problem(
                400,
                f"The {name} header must be printable ASCII.",
                type_="invalid-header",
            )
        headers[name] = value
    return headers


class Proxy:
    def __init__(self, clients: Mapping[str, httpx.AsyncClient]) -> None:
        self._clients = clients

    async def forward(self, route: Route, request: Request) -> Response:
        client = self._clients[route.service]
        headers = forwarded_headers(request)
        if request.client is not None:
            headers["x-forwarded-for"] = request.client.host
        try:
            upstream = await client.request(
                request.method,
                route.upstream_path,
                params=request.query_params,
                content=await request.body(),
                headers=headers,
            )
        except httpx.InvalidURL as exc:  # e.g. control characters: no service route has them
            raise Problem(404, "No public route has this path.", type_="not-found") from exc
        except httpx.TimeoutException as exc:
            raise Problem(
                504,
                f"The {route.service} service did not answer in time.",
                type_="upstream-timeout",
            ) from exc
        except httpx.HTTPError as exc:
            raise Problem(
                503,
                f"The {route.service} service is unavailable.",
                type_="upstream-unavailable",
                headers={"Retry-After": "1"},
            ) from exc
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            headers={
                name: value
                for name in FORWARDED_RESPONSE_HEADERS
                if (value := upstream.headers.get(name)) is not None
            },
        )
