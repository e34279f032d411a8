"""Which service answers which public path, and which paths the gateway forwards at all.

The gateway forwards a request only when its path, as sent and as decoded, is already
in normal form and names a public route: every segment is letters, digits, ``-`` or
``_``. That covers every public path (``/api/v1/orders/42``, payment UUIDs) and leaves
nothing that a router, a proxy or the HTTP client below could re-normalise on the way:
no dot-segments (``..``, ``%2e%2E``, ``%252e``), no encoded or back slashes, no empty
segments, no control characters. The upstream path is then rebuilt from the service
name and that one checked segment, so it cannot resolve outside the route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# An id as the public routes take them: integers and UUIDs, with room to spare.
MAX_SEGMENT_LENGTH = 128
SEGMENT = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_SEGMENT_LENGTH}}}")
NORMAL_PATH = re.compile(rf"(?:/[A-Za-z0-9_-]{{1,{MAX_SEGMENT_LENGTH}}})+")


class RefusedPath(ValueError):
    """A path the gateway does not forward; the message says why, for the client."""


class MalformedPath(RefusedPath):
    """Not in normal form: encoded, dotted, empty or control characters (a 400)."""


class NoPublicRoute(RefusedPath):
    """Well formed, but no public route answers it (a 404)."""


@dataclass(frozen=True)
class Route:
    """A public path of the gateway and where it is answered."""

    service: str
    upstream_path: str


SHORTCUTS = {
    ("POST", "/order"): Route("orders", "/api/v1/orders"),
    ("POST", "/payment/pay"): Route("payments", "/api/v1/payments"),
}


def _flaw(path: str) -> str:
    """What keeps ``path`` from normal form, in words a client can act on."""
    for char in path:
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return "it contains a control character"
    if "%" in path:
        return "it contains a percent-encoded character (%XX)"
    if "\\" in path:
        return "it contains a backslash"
    segments = path.split("/")[1:]
    if any(segment in (".", "..") for segment in segments):
        return "it contains a dot-segment (. or ..)"
    if any(segment == "" for segment in segments):
        return "it contains an empty segment (//) or ends with /"
    if any(len(segment) > MAX_SEGMENT_LENGTH for segment in segments):
        return f"a segment is longer than {MAX_SEGMENT_LENGTH} characters"
    return "a segment has characters other than letters, digits, '-' and '_'"


def check_forwardable(raw_path: str, decoded_path: str) -> None:
    """Refuse a request path unless it is in normal form both as sent and as decoded.

    ``raw_path`` is the path as it came over the wire (query excluded); ``decoded_path``
    is what the router matched. Checking both catches encodings either one hides.
    """
    for path in (raw_path, decoded_path):
        if not path.startswith("/") or NORMAL_PATH.fullmatch(path) is None:
            raise MalformedPath(f"The path is not forwarded: {_flaw(path)}.")


@dataclass(frozen=True)
class PublicApis:
    """The services whose resource API is public (the bootstrap reads them from the manifest)."""

    services: frozenset[str]

    def route(self, service: str, rest: str = "") -> Route:
        """``/api/v1/<service>[/<id>]`` is answered by that service at the same path.

        Only the public API is reachable: the one segment after the service must be an id
        (see ``SEGMENT``), so nothing a client sends can name another path of the service,
        such as its ``/internal`` or ``/admin`` routes.
        """
        if service not in self.services:
            raise ValueError(f"unknown service {service!r}")
        path = f"/api/v1/{service}"
        if rest == "":
            return Route(service, path)
        if SEGMENT.fullmatch(rest) is None:
            raise NoPublicRoute(
                f"No public route answers /api/v1/{service}/{rest}: after /api/v1/{service}/ "
                "comes one id (letters, digits, '-' or '_')."
            )
        return Route(service, f"{path}/{rest}")
