"""HTTP client of the orders service, behind the payments' OrderBook port."""

from __future__ import annotations

from decimal import Decimal

import httpx

from minishop.payments.domain.model import DependencyUnavailable, OrderSnapshot


class HttpOrderBook:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def get(self, order_id: int) -> OrderSnapshot | None:
        try:
            response = await self._client.get(f"/api/v1/orders/{order_id}")
        except httpx.HTTPError as exc:
            raise DependencyUnavailable("orders", type(exc).__name__) from exc
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DependencyUnavailable("orders", f"answered {response.status_code}")
        body = response.json()
        return OrderSnapshot(
            id=body["order_id"],
            status=body["status"],
            total_cents=int(Decimal(str(body["total"])) * 100),
        )

    async def record_result(self, order_id: int, payment_id: str, succeeded: bool) -> None:
        try:
            response = await self._client.post(
                f"/internal/orders/{order_id}/payment-result",
                json={"payment_id": payment_id, "succeeded": succeeded},
            )
        except httpx.HTTPError as exc:
            raise DependencyUnavailable("orders", type(exc).__name__) from exc
        # 409: orders already holds a later outcome (e.g. paid by a retry); nothing to correct.
        if response.status_code not in (200, 409):
            raise DependencyUnavailable("orders", f"answered {response.status_code}")
