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


class OrderBook(Protocol):
    async def get(self, order_id: int) -> OrderSnapshot | None: ...

    async def record_result(self, order_id: int, payment_id: str, succeeded: bool) -> None: ...
