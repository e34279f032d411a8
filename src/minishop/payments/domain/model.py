"""Payments: who may be charged, what a card may look like, what an outcome means."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

FAILURE_REASONS = ("card_declined", "insufficient_funds", "provider_timeout")
"""What the provider answers when it declines a charge."""
PROVIDER_UNREACHABLE = "provider_unreachable"
"""The failure reason of a payment whose provider could not be reached: nothing was charged."""
ORDER_CLOSED = "order_closed"
"""The reason of a refunded payment: its order closed (expired, or paid by another payment)
while the charge ran, so orders refused the money and the charge was given back."""
PAYMENT_PROVIDER = "payment-provider"
"""The provider's name as a dependency (``dependency_unreachable_total{dependency}``)."""
PAYABLE_ORDER_STATUSES = frozenset({"pending", "payment_failed"})
MAX_ORDER_ID = 2**31 - 1
"""Order ids are ``INTEGER`` keys: the largest value both SQLite and PostgreSQL hold."""
MAX_PAYMENT_ID_LENGTH = 36
"""Payment ids are UUIDs in a ``VARCHAR(36)`` column."""
MAX_CARD_NUMBER_LENGTH = 32
MAX_PROVIDER_LATENCY_MS = 60_000
CARD_DIGITS = (12, 19)
_ASCII_DIGITS = frozenset("0123456789")


class PaymentStatus(StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    """Charged, then given back: orders refused the outcome (reason ``order_closed``)."""


class InvalidPayment(ValueError):
    pass


class OrderNotFound(LookupError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"Order {order_id} does not exist.")
        self.order_id = order_id


class OrderNotPayable(Exception):
    """Paid already, being paid right now, or not in a state that can be paid."""


class PaymentNotFound(LookupError):
    def __init__(self, payment_id: str) -> None:
        super().__init__(f"Payment {payment_id} does not exist.")


class DependencyUnavailable(Exception):
    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"The {service} service is unavailable: {detail}")
        self.service = service


class ProviderUnreachable(Exception):
    """The provider could not be reached, so the charge never happened.

    The adapter raises it (without ``payment``) for a connection that failed; the use
    case raises it again once the payment is recorded ``failed``, with that payment.
    """

    def __init__(self, detail: str, payment: Payment | None = None) -> None:
        super().__init__(f"The payment provider is unreachable: {detail}")
        self.detail = detail
        self.payment = payment


@dataclass(frozen=True)
class OrderSnapshot:
    """What payments needs to know of an order, as the orders service says it is."""

    id: int
    status: str
    total_cents: int

    def ensure_payable(self) -> None:
        if self.status == "paid":
            raise OrderNotPayable(f"Order {self.id} is already paid.")
        if self.status not in PAYABLE_ORDER_STATUSES:
            raise OrderNotPayable(f"Order {self.id} is {self.status} and cannot be paid.")


@dataclass(frozen=True)
class ChargeOutcome:
    succeeded: bool
    reason: str | None = None


@dataclass(frozen=True)
class Payment:
    id: str
    order_id: int
    amount_cents: int
    status: PaymentStatus
    reason: str | None
    card_last4: str | None
    order_synced: bool
    created_at: datetime


def card_last4(card_number: str | None) -> str | None:
    """Keep the last four digits and nothing else: the full number is never stored or logged."""
    if card_number is None:
        return None
    digits = card_number.replace(" ", "").replace("-", "")
    shortest, longest = CARD_DIGITS
    # ``str.isdigit`` would take "٤" or "²": only ASCII digits are a card number.
    if not set(digits) <= _ASCII_DIGITS or not shortest <= len(digits) <= longest:
        raise InvalidPayment(f"card_number must be {shortest} to {longest} digits")
    return digits[-4:]
