"""What the payments use cases need from the outside world."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from minishop.payments.domain.model import ChargeOutcome, OrderSnapshot, Payment


class PaymentRepository(Protocol):
    async def start(self, order_id: int, amount_cents: int, card_last4: str | None) -> Payment:
        """Record a charge in progress; OrderNotPayable if paid or being paid."""
        ...

    async def renew(self, payment_id: str) -> bool:
        """Mark a charge in progress as still alive; False when it is no longer in progress."""
        ...

    async def finish(self, payment_id: str, outcome: ChargeOutcome) -> Payment: ...

    async def refund(self, payment_id: str, reason: str) -> Payment:
        """Turn a ``succeeded`` payment ``refunded`` (conditional: once only).

        PaymentNotFound when it is not ``succeeded`` (anymore): another path refunded it.
        """
        ...

    async def mark_synced(self, payment_id: str) -> None: ...

    async def get(self, payment_id: str) -> Payment | None: ...

    async def list(self, limit: int, offset: int, order_id: int | None) -> list[Payment]: ...

    async def unsynced(self) -> list[Payment]:
        """Finished payments the orders service has not acknowledged yet."""
        ...

    async def stale_processing(self, older_than: timedelta) -> list[Payment]:
        """Charges in progress nobody renewed for ``older_than``: their process died."""
        ...


class PaymentProvider(Protocol):
    async def charge(self, amount_cents: int, order_id: int) -> ChargeOutcome: ...

    async def refund(self, payment_id: str, amount_cents: int) -> None:
        """Give a succeeded charge back; the payment id is the provider's idempotency key,
        so a refund asked twice (the request and the reconciler racing) is made once."""
        ...


class OrderBook(Protocol):
    async def get(self, order_id: int) -> OrderSnapshot | None: ...

    async def record_result(self, order_id: int, payment_id: str, succeeded: bool) -> bool:
        """True when orders took the outcome; False when it refused it because the order is
        closed (expired, or paid by another payment). DependencyUnavailable otherwise."""
        ...


class RefundListener(Protocol):
    def refunded(self, payment: Payment) -> None:
        """A payment was just refunded (called once per payment, by the path that did it)."""
        ...
