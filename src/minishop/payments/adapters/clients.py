"""HTTP client of the orders service, behind the payments' OrderBook port.

A 404 or 422 for an order id means no such order can be found (the client's input,
a 4xx); only a network error, a timeout, a 5xx or an unreadable answer makes orders
unavailable (503).
"""

from __future__ import annotations

import httpx

from minishop.payments.domain.model import DependencyUnavailable, OrderSnapshot
from minishop.platform.money import amount_to_cents

NAMES_NOTHING = frozenset({404, 422})


class HttpOrderBook:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def get(self, order_id: int) -> OrderSnapshot | None:
        try:
            response = await self._client.get(f"/api/v1/orders/{order_id}")
        except httpx.HTTPError as exc:
            raise DependencyUnavailable("orders", type(exc).__name__) from exc
        if response.status_code in NAMES_NOTHING:
            return None
        if response.status_code != 200:
            raise DependencyUnavailable("orders", f"answered {response.status_code}")
        try:
            body = response.json()
            return OrderSnapshot(
                id=int(body["order_id"]),
                status=str(body["status"]),
                total_cents=amount_to_cents(body["total"]),
            )
        except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
            raise DependencyUnavailable("orders", "answered an unreadable order") from exc

    async def record_result(self, order_id: int, payment_id: str, succeeded: bool) -> bool:
        """True: orders took the outcome (200). False: it refused it (409), the order being
        closed: expired, or paid by another payment; a charge it refuses must be refunded."""
        try:
            response = await self._client.post(
                f"/internal/orders/{order_id}/payment-result",
                json={"payment_id": payment_id, "succeeded": succeeded},
            )
        except httpx.HTTPError as exc:
            raise DependencyUnavailable("orders", type(exc).__name__) from exc
        if response.status_code == 409:
            return False
        if response.status_code != 200:
            raise DependencyUnavailable("orders", f"answered {response.status_code}")
        return True
