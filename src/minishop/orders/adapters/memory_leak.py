"""The ``orders_memory_leak KB`` fault: orders keeps memory it never frees.

While the flag is on, each request to the orders API (its ``/api`` and ``/internal``
routes; not ``/metrics`` or the health probes, which a scraper or a supervisor would
otherwise leak through on their own) keeps ``KB`` kibibytes in a module-level list that
nothing ever empties, like a cache without eviction. The bytes are written when they are
kept, so the pages are really resident and ``process_resident_memory_bytes{service=
"orders"}`` grows with the traffic.

Switching the flag off stops the growth; it does not give the memory back (nothing
does, short of a restart: that is what a leak is). A hard cap, ``MAX_RETAINED_BYTES``
(1 GiB), bounds what the process keeps in all, so a flag left on cannot take the
machine down: once reached, requests keep nothing more and one warning says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.routing import APIRoute

from minishop.flags import FlagSource, record_evaluation
from minishop.observability.logging import get_logger

FLAG = "orders_memory_leak"
KIB = 1024
MAX_RETAINED_BYTES = 1024 * 1024 * KIB
"""At most 1 GiB kept in all, whatever the flag says and however long it stays on."""

_RETAINED: list[bytes] = []
"""What the leak keeps, for the life of the process: never cleared, on purpose."""
_retained_bytes = 0
_log = get_logger("minishop.orders")


def retained_bytes() -> int:
    """How much the leak keeps now, across every app of this process."""
    return _retained_bytes


def retain(kib: int) -> int:
    """Keep ``kib`` KiB (less near the cap), written so they are resident; bytes kept."""
    global _retained_bytes
    room = MAX_RETAINED_BYTES - _retained_bytes
    size = min(kib * KIB, room)
    if size <= 0:
        return 0
    _RETAINED.append(b"x" * size)  # filled, not just reserved: the pages are touched
    _retained_bytes += size
    if _retained_bytes >= MAX_RETAINED_BYTES:
        _log.warning(
            "memory leak reached its cap: requests keep nothing more",
            flag=FLAG,
            retained_bytes=_retained_bytes,
        )
    return size


class MemoryLeak:
    """Keeps memory on each request while ``orders_memory_leak`` is on."""

    def __init__(self, flags: FlagSource) -> None:
        self._flags = flags

    async def on_request(self) -> None:
        active = self._flags.active
        kib = active.orders_memory_leak
        if kib is None:
            return
        record_evaluation(FLAG, active.variant(FLAG), kib)
        retain(kib)


def hooked_routes(hook: Callable[[], Awaitable[None]]) -> type[APIRoute]:
    """A route class whose handlers await ``hook`` first, for a router's ``route_class``.

    A plain call per request: a router-wide ``Depends`` does the same through FastAPI's
    dependency resolution, measured at +15 µs per request against ~0 for this.
    """

    class HookedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
            handler = super().get_route_handler()

            async def hooked(request: Request) -> Response:
                await hook()
                return await handler(request)

            return hooked

    return HookedRoute
