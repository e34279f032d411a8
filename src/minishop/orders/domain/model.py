"""Orders: what makes a valid order, what it costs, and how its status may change."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

MAX_LINES = 100
MAX_QUANTITY = 10_000
"""Units of one product in one order (lines for the same product are added up first)."""
MAX_ID = 2**31 - 1
"""Order, user and product ids are ``INTEGER`` keys: the largest value both databases hold."""
MAX_TOTAL_CENTS = 2**31 - 1
"""An order's total is an ``INTEGER`` of cents: 21,474,836.47 is the most it can record."""
MAX_PAYMENT_ID_LENGTH = 64


class OrderStatus(StrEnum):
    RESERVING = "reserving"  # stock is being taken; the order is not confirmed yet
    PENDING = "pending"  # confirmed, waiting for payment
    PAID = "paid"
    PAYMENT_FAILED = "payment_failed"  # the last attempt failed; it may be paid again
    EXPIRING = "expiring"  # unpaid too long: its stock is being given back; cannot be paid
    EXPIRED = "expired"  # unpaid too long; its stock is back in the catalog


PAYABLE = frozenset({OrderStatus.PENDING, OrderStatus.PAYMENT_FAILED})
EXPIRABLE = PAYABLE
EXPIRED_STATUSES = frozenset({OrderStatus.EXPIRING, OrderStatus.EXPIRED})
"""An order still waiting for its payment expires after the payment timeout; a paid one never.

The moves, each a conditional update so that two of them can never both happen:
``reserving`` -> ``pending`` (stock held) -> ``paid`` | ``payment_failed`` (-> ``paid`` ...);
``pending`` | ``payment_failed`` -> ``expiring`` (won against a payment arriving at the same
moment) -> ``expired`` (stock given back). ``expiring`` is a step, not a resting place: it
says the stock may not be back yet, so a crash between the two is finished on the next round.
"""


class InvalidOrder(ValueError):
    """The request cannot describe an order."""


class OrderNotFound(LookupError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"Order {order_id} does not exist.")
        self.order_id = order_id


class UnknownUser(LookupError):
    def __init__(self, user_id: int) -> None:
        super().__init__(f"User {user_id} does not exist.")
        self.user_id = user_id


class UnknownProducts(LookupError):
    def __init__(self, product_ids: Sequence[int]) -> None:
        listed = ", ".join(str(pid) for pid in sorted(product_ids))
        super().__init__(f"Unknown product id(s): {listed}.")
        self.product_ids = sorted(product_ids)


class OutOfStock(Exception):
    def __init__(self, detail: str, product_id: int | None = None) -> None:
        super().__init__(detail)
        self.product_id = product_id


class InvalidTransition(Exception):
    pass


class PaidAfterExpiry(InvalidTransition):
    """A charge that succeeded for an order that had expired meanwhile: the order keeps its
    expiry (its stock is back in the catalog), and the charge is owed back to the customer."""


class DependencyUnavailable(Exception):
    """Another service did not answer usefully; the order was not placed."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"The {service} service is unavailable: {detail}")
        self.service = service


@dataclass(frozen=True)
class RequestedLine:
    """Units of one product: a line of an order request, or stock held for an order."""

    product_id: int
    quantity: int


@dataclass(frozen=True)
class OrderRequest:
    """An order as its client asked for it, validated: one line per product, sorted."""

    user_id: int
    lines: tuple[RequestedLine, ...]

    @classmethod
    def create(cls, user_id: int, lines: Iterable[RequestedLine]) -> OrderRequest:
        items = tuple(lines)
        if not 0 < user_id <= MAX_ID:
            raise InvalidOrder(f"user_id must be an id between 1 and {MAX_ID}")
        if not items:
            raise InvalidOrder("an order needs at least one item")
        if len(items) > MAX_LINES:
            raise InvalidOrder(f"an order has at most {MAX_LINES} items")
        merged: Counter[int] = Counter()
        for item in items:
            if not 0 < item.product_id <= MAX_ID:
                raise InvalidOrder(f"product_id must be an id between 1 and {MAX_ID}")
            if item.quantity <= 0 or item.quantity > MAX_QUANTITY:
                raise InvalidOrder(f"quantity must be between 1 and {MAX_QUANTITY}")
            merged[item.product_id] += item.quantity
            if merged[item.product_id] > MAX_QUANTITY:
                raise InvalidOrder(
                    f"an order holds at most {MAX_QUANTITY} units of product {item.product_id}"
                )
        return cls(user_id, tuple(RequestedLine(pid, merged[pid]) for pid in sorted(merged)))

    @property
    def product_ids(self) -> list[int]:
        return [line.product_id for line in self.lines]

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)


@dataclass(frozen=True)
class OrderLine:
    product_id: int
    quantity: int
    unit_price_cents: int

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_price_cents


def price_lines(request: OrderRequest, prices: Mapping[int, int]) -> tuple[OrderLine, ...]:
    """Price every line at the unit prices the catalog answered with the stock it gave; an
    order never holds a product the catalog lacks."""
    missing = [pid for pid in request.product_ids if pid not in prices]
    if missing:
        raise UnknownProducts(missing)
    lines = tuple(
        OrderLine(line.product_id, line.quantity, prices[line.product_id]) for line in request.lines
    )
    if sum(line.total_cents for line in lines) > MAX_TOTAL_CENTS:
        raise InvalidOrder(f"an order's total is at most {MAX_TOTAL_CENTS / 100:.2f}")
    return lines


@dataclass(frozen=True)
class Reservation:
    """Stock taken for one order, all lines or none; the id makes a retry a replay."""

    id: str
    lines: tuple[RequestedLine, ...]


def payment_outcome(succeeded: bool) -> OrderStatus:
    """The status a payment outcome moves a payable order to."""
    return OrderStatus.PAID if succeeded else OrderStatus.PAYMENT_FAILED


@dataclass(frozen=True)
class Order:
    id: int
    user_id: int
    status: OrderStatus
    lines: tuple[OrderLine, ...]
    total_cents: int
    reservation_id: str
    payment_id: str | None
    created_at: datetime

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    def after_payment(self, succeeded: bool, payment_id: str) -> OrderStatus:
        """The status a payment outcome moves this order to; refuses to pay twice."""
        if self.status == OrderStatus.PAID:
            if succeeded and payment_id == self.payment_id:
                return OrderStatus.PAID  # the same outcome reported again
            raise InvalidTransition(f"Order {self.id} is already paid.")
        if self.status not in PAYABLE:
            refused = f"Order {self.id} is {self.status.value} and cannot be paid."
            if succeeded and self.status in EXPIRED_STATUSES:
                raise PaidAfterExpiry(refused)
            raise InvalidTransition(refused)
        return payment_outcome(succeeded)
