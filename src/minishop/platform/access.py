"""Who may call a service's ``/internal/*``, ``/admin/*`` and ``/debug/*`` routes.

``/internal/*`` routes are service-to-service calls (orders -> products, payments ->
orders): they require the shop's shared secret in ``X-Internal-Token``. ``/admin/*``
routes (fault injection) require ``Authorization: Bearer <admin token>`` (CONTRACT §9),
and so do ``/debug/*`` routes (the CPU profiler, ``platform.profiling``): a profile shows
the service's code paths and costs it CPU while it runs. Each answers 401 without the
credential and 403 with a wrong one, and fails closed: a service started without the token
refuses every call to the routes it guards. The gateway and the lab's tools are never given
the admin token (see ``ServiceEntry.holds_credentials``), so under ``minishop up`` their
``/debug`` routes refuse every call; the refusal says so (``withheld``).

A plain ASGI middleware, before routing and before the body is read. It decides on every
reading of the path a router or a proxy could make (the decoded path, the raw path
decoded until stable, each with dot-segments and empty segments resolved, in any case),
so ``/api/../internal/x`` or ``/%69nternal/x`` cannot slip past: when any reading lands in
a guarded zone, that zone's credential is required.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from minishop.platform.openapi import problem_response as documented_problem
from minishop.platform.problems import problem_response
from minishop.platform.settings import ADMIN_TOKEN_VARIABLE, INTERNAL_TOKEN_VARIABLE

INTERNAL_TOKEN_HEADER = "X-Internal-Token"
INTERNAL_PREFIX = "internal"
ADMIN_PREFIX = "admin"
DEBUG_PREFIX = "debug"
# Percent-decoding stops after this many rounds; a path still encoded then is guarded.
_MAX_DECODE_ROUNDS = 4


@dataclass(frozen=True)
class Zone:
    """A guarded first path segment and how its callers prove who they are."""

    segment: str
    variable: str  # the setting that holds its token, named in refusals
    header: bytes
    bearer: bool

    def presented(self, headers: list[tuple[bytes, bytes]]) -> bytes | None:
        """The credential the request carries for this zone, or None when it carries none."""
        for name, value in headers:
            if name != self.header:
                continue
            value = value.strip()
            if not self.bearer:
                return value or None
            scheme, _, credential = value.partition(b" ")
            if scheme.lower() == b"bearer" and credential.strip():
                return credential.strip()
            return None
        return None


INTERNAL = Zone(
    INTERNAL_PREFIX, INTERNAL_TOKEN_VARIABLE, INTERNAL_TOKEN_HEADER.lower().encode(), bearer=False
)
ADMIN = Zone(ADMIN_PREFIX, ADMIN_TOKEN_VARIABLE, b"authorization", bearer=True)
DEBUG = Zone(DEBUG_PREFIX, ADMIN_TOKEN_VARIABLE, b"authorization", bearer=True)
ZONES = (INTERNAL, ADMIN, DEBUG)


def _resolve(path: str) -> str:
    """``path`` with empty and dot segments resolved as RFC 3986 would, never above the root."""
    stack: list[str] = []
    for segment in path.replace("\\", "/").split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if stack:
                stack.pop()
            continue
        stack.append(segment)
    return "/" + "/".join(stack)


def _readings(scope: Scope) -> Iterator[str | None]:
    """Every path this request could be taken to mean; None when it cannot be told."""
    decoded: str = scope["path"]
    yield decoded
    yield _resolve(decoded)
    raw = scope.get("raw_path")
    if raw is None:
        return
    text = raw.split(b"?", 1)[0].decode("latin-1")
    for _ in range(_MAX_DECODE_ROUNDS):
        yield _resolve(text)
        decoded_once = unquote(text, errors="replace")
        if decoded_once == text:
            return
        text = decoded_once
    yield None  # still encoded after that many rounds: it could mean anything


def guarded_zones(scope: Scope, zones: Sequence[Zone] = ZONES) -> list[Zone]:
    """The ``zones`` any reading of the request's path falls in (usually none)."""
    found: list[Zone] = []
    for reading in _readings(scope):
        if reading is None:
            return list(zones)
        first = reading.lstrip("/").split("/", 1)[0].strip().lower()
        for zone in zones:
            if first == zone.segment and zone not in found:
                found.append(zone)
    return found


class AccessGuard:
    """Refuses calls to guarded routes without the right credential, with a problem document."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        internal_token: SecretStr | None,
        admin_token: SecretStr | None,
        zones: Sequence[Zone] = ZONES,
        withheld: str | None = None,
    ) -> None:
        """``withheld`` names this process when ``minishop up`` never gives it the tokens
        (the gateway, the lab's tools): a refusal for a missing token then says so."""
        self.app = app
        self._zones = tuple(zones)
        self._tokens = _tokens_by_zone(internal_token, admin_token)
        self._withheld = withheld

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for zone in guarded_zones(scope, self._zones):
                refusal = self._refusal(zone, scope)
                if refusal is not None:
                    await refusal(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _refusal(self, zone: Zone, scope: Scope) -> JSONResponse | None:
        """The problem answer when the request lacks ``zone``'s credential, else None."""
        expected = self._tokens[zone]
        presented = zone.presented(scope["headers"])
        request = Request(scope)
        instance = scope["path"]
        if expected is None:
            return problem_response(
                403,
                _closed_detail(zone, self._withheld),
                request=request,
                type_="forbidden",
                title="Forbidden",
                instance=instance,
            )
        if presented is None:
            header = INTERNAL_TOKEN_HEADER if not zone.bearer else "Authorization: Bearer"
            return problem_response(
                401,
                f"The /{zone.segment} routes require credentials: send {header} <token> "
                f"(the value of {zone.variable}).",
                request=request,
                type_="unauthorized",
                title="Unauthorized",
                instance=instance,
                headers={"WWW-Authenticate": 'Bearer realm="minishop"'} if zone.bearer else None,
            )
        if not hmac.compare_digest(presented, expected):
            return problem_response(
                403,
                f"The credential sent for the /{zone.segment} routes is not valid.",
                request=request,
                type_="forbidden",
                title="Forbidden",
                instance=instance,
            )
        return None


def _closed_detail(zone: Zone, withheld: str | None) -> str:
    """Why every call to ``zone`` is refused, and what would open it."""
    if withheld is not None:
        return (
            f"{withheld} is never given {zone.variable}: it faces clients or is a lab tool, "
            f"so a breach of it yields no credential. Its /{zone.segment} routes refuse every "
            f"call. To use them, run it alone with a token of its own: "
            f"{zone.variable}=<token> minishop serve {withheld}."
        )
    return (
        f"{zone.variable} is not set on this service: its /{zone.segment} routes "
        "refuse every call. Start the shop with `minishop up`, or set the same "
        f"{zone.variable} on every service."
    )


def _token_bytes(token: SecretStr | None) -> bytes | None:
    if token is None:
        return None
    value = token.get_secret_value()
    return value.encode("latin-1") if value else None


def _tokens_by_zone(
    internal_token: SecretStr | None, admin_token: SecretStr | None
) -> dict[Zone, bytes | None]:
    admin = _token_bytes(admin_token)
    return {INTERNAL: _token_bytes(internal_token), ADMIN: admin, DEBUG: admin}


def closed_zones(
    zones: Sequence[Zone], internal_token: SecretStr | None, admin_token: SecretStr | None
) -> list[Zone]:
    """The ``zones`` that have no token, whose routes refuse every call (worth a warning)."""
    tokens = _tokens_by_zone(internal_token, admin_token)
    return [zone for zone in zones if tokens[zone] is None]


def access_responses(zone: Zone) -> Mapping[int, dict[str, Any]]:
    """The OpenAPI ``responses`` a guarded route adds: its 401 and 403 problem answers."""
    credential = (
        f"`{INTERNAL_TOKEN_HEADER}`" if not zone.bearer else "`Authorization: Bearer <token>`"
    )
    return {
        401: documented_problem(401, f"No credential: send {credential}."),
        403: documented_problem(
            403, f"Wrong credential, or {zone.variable} is not set on the service."
        ),
    }


def document_guarded_routes(routers: Sequence[APIRouter]) -> list[Zone]:
    """Add the 401/403 answers to the OpenAPI of every guarded route; return the zones in use.

    Called on the routers before the application includes them, so the answers are part
    of each route from the start.
    """
    used: list[Zone] = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            first = route.path.lstrip("/").split("/", 1)[0].lower()
            for zone in ZONES:
                if first == zone.segment:
                    for status, response in access_responses(zone).items():
                        route.responses.setdefault(status, response)
                    if zone not in used:
                        used.append(zone)
    return used
