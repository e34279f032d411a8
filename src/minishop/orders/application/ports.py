"""What the orders use cases need: their own storage and the two services they call."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from minishop.orders.domain.model import Order, OrderLine, OrderStatus, Reservation


class OrderRepository(Protocol):
    async def add_reserving(self, user_id: int, reservation_id: str) -> Order:
        """The order's record before its stock is taken: no lines, no total yet, but the
        reservation id, from which the stock is given back should anything fail later."""
        ...

    async def confirm(self, order: Order, lines: Sequence[OrderLine]) -> Order:
        """``reserving`` -> ``pending`` with its priced lines and total, all at once, once its
        stock is held; raises OrderNotFound if the order is no longer ``reserving``."""
        ...

    async def discard(self, order_id: int) -> None:
        """Remove an order that never got its stock; nothing of it remains."""
        ...

    async def get(self, order_id: int) -> Order | None: ...

    async def list(self, limit: int, offset: int, user_id: int | None) -> list[Order]: ...

    async def set_status(
        self, order_id: int, expected: OrderStatus, new: OrderStatus, payment_id: str | None
    ) -> bool:
        """Move the order only if it is still in ``expected``; False when it moved meanwhile."""
        ...

    async def record_outcome(
        self,
        order_id: int,
        payable: Collection[OrderStatus],
        new: OrderStatus,
        payment_id: str,
    ) -> Order | None:
        """Move the order to ``new`` with ``payment_id`` in one conditional write if it is
        in one of the ``payable`` statuses and does not hold that outcome already: the
        order as moved, or None when nothing changed (the caller then reads and decides)."""
        ...

    async def stale_reserving(self, older_than: timedelta) -> list[Order]: ...


class ExpiringOrders(Protocol):
    """The orders as their expiry sees them: the unpaid, and the two conditional moves."""

    async def expiry_candidates(self, unpaid_since: datetime, limit: int) -> list[Order]:
        """Up to ``limit`` orders waiting for payment since before ``unpaid_since``, and every
        order left ``expiring`` (its stock may not be back yet), oldest first."""
        ...

    async def begin_expiry(self, order_id: int, unpaid_since: datetime) -> bool:
        """Move the order to ``expiring`` only if it is still unpaid since before
        ``unpaid_since``; False when a payment outcome moved it meanwhile."""
        ...

    async def finish_expiry(self, order_id: int) -> bool:
        """``expiring`` -> ``expired``, once its stock is back; False if it was already."""
        ...


class ExpiryEvents(Protocol):
    """Where an expiry is reported (counted and logged)."""

    def expired(self, order: Order) -> None: ...

    def deferred(self, order: Order, reason: str) -> None:
        """The order could not expire completely this round (its stock not given back)."""
        ...


class UserDirectory(Protocol):
    async def exists(self, user_id: int) -> bool: ...


class Inventory(Protocol):
    async def deduct(self, reservation: Reservation) -> dict[int, int]:
        """Take the stock of every line or none; the unit price in cents of each product,
        read with its stock. Raises OutOfStock, or UnknownProducts when one does not exist.

        A repeat of a reservation already taken is a replay, not a second deduction; it
        answers the prices too.
        """
        ...

    async def release(self, reservation_id: str) -> None:
        """Give the stock back; safe to repeat."""
        ...
