"""Unpaid orders expire: after the payment timeout their stock goes back to the catalog.

An order left ``pending`` (or ``payment_failed``) holds its stock for good otherwise: under
sustained traffic the catalog would fill with units nobody will pay for. Each round finds
the orders unpaid for longer than the timeout and, for each, in one ``ExpireOrder`` span:

1. moves it to ``expiring`` with a conditional update. A payment outcome arriving at the
   same moment makes the same kind of update from ``pending``: exactly one of the two
   wins, so an order is never both paid and given back. The loser of the race either
   finds the order moved on (here), or is refused with "cannot be paid" (payments).
   Only an order this round moved, or one found ``expiring``, goes on to step 2: a
   candidate may arrive already ``paid`` (read after its payment committed);
2. gives its stock back through products' release, which is safe to repeat;
3. moves it to ``expired``.

A crash or an unreachable products service between 1 and 3 leaves it ``expiring``: the
next round picks it up again and finishes it. The poll itself is housekeeping and stays
untraced (the adapter's business); each expiry is a real trace that reaches products.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from minishop.orders.application.ports import ExpiringOrders, ExpiryEvents, Inventory
from minishop.orders.domain.model import EXPIRABLE, DependencyUnavailable, Order, OrderStatus
from minishop.platform.money import cents_to_number

MAX_EXPIRIES_PER_ROUND = 100
"""Orders expired in one round at most: a backlog is worked off over a few rounds."""


class OrderExpiry:
    def __init__(
        self,
        orders: ExpiringOrders,
        inventory: Inventory,
        events: ExpiryEvents,
        tracer: trace.Tracer,
        timeout: timedelta,
    ) -> None:
        self._orders = orders
        self._inventory = inventory
        self._events = events
        self._tracer = tracer
        self._timeout = timeout

    async def expire_unpaid(self) -> list[Order]:
        """One round: expire every order unpaid for too long; the orders it expired."""
        unpaid_since = datetime.now(UTC) - self._timeout
        expired: list[Order] = []
        for order in await self._orders.expiry_candidates(unpaid_since, MAX_EXPIRIES_PER_ROUND):
            if await self._expire(order, unpaid_since):
                expired.append(order)
        return expired

    async def _expire(self, order: Order, unpaid_since: datetime) -> bool:
        with self._tracer.start_as_current_span("ExpireOrder") as span:
            span.set_attribute("order.id", order.id)
            span.set_attribute("order.status_before", order.status.value)
            span.set_attribute("order.total", cents_to_number(order.total_cents))
            span.set_attribute("order.timeout_seconds", self._timeout.total_seconds())
            if not await self._holds_expiry(order, unpaid_since):
                span.set_attribute("order.expiry_result", "moved_on")  # a payment won
                return False
            try:
                await self._inventory.release(order.reservation_id)
            except DependencyUnavailable as exc:  # left expiring: the next round finishes it
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.set_attribute("order.expiry_result", "deferred")
                self._events.deferred(order, str(exc))
                return False
            if not await self._orders.finish_expiry(order.id):
                span.set_attribute("order.expiry_result", "finished_elsewhere")
                return False
            span.set_attribute("order.expiry_result", "expired")
            self._events.expired(order)
            return True

    async def _holds_expiry(self, order: Order, unpaid_since: datetime) -> bool:
        """Whether this order's stock is the expiry's to give back: it was left ``expiring``,
        or this round moves it there now.

        Any other status refuses, whatever status it is: the candidate is a snapshot read
        after the poll, so a payment that landed between the two shows here as ``paid``, and
        an order this round did not move to ``expiring`` must keep its stock.
        """
        if order.status == OrderStatus.EXPIRING:
            return True  # an earlier round won the race and stopped before step 3
        if order.status not in EXPIRABLE:
            return False
        return await self._orders.begin_expiry(order.id, unpaid_since)
