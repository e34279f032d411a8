"""HTTP clients of the services orders depends on, behind the application's ports.

How a downstream answer is read: a 404 or 422 about an id orders passed on means the
client's input names nothing (a 4xx for the client, never a 503); only a network error,
a timeout, a 5xx or an answer orders cannot read makes the dependency unavailable.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from minishop.orders.domain.model import (
    DependencyUnavailable,
    InvalidOrder,
    OutOfStock,
    RequestedLine,
    Reservation,
    UnknownProducts,
)
from minishop.platform.money import amount_to_cents

NAMES_NOTHING = frozenset({404, 422})
"""Downstream statuses that mean the id asked about cannot be found there."""


def _unavailable(service: str, error: httpx.HTTPError | httpx.Response) -> DependencyUnavailable:
    if isinstance(error, httpx.Response):
        return DependencyUnavailable(service, f"answered {error.status_code}")
    return DependencyUnavailable(service, type(error).__name__)


class HttpUserDirectory:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def exists(self, user_id: int) -> bool:
        try:
            response = await self._client.get(f"/api/v1/users/{user_id}")
        except httpx.HTTPError as exc:
            raise _unavailable("users", exc) from exc
        if response.status_code in NAMES_NOTHING:
            return False
        if response.status_code != 200:
            raise _unavailable("users", response)
        return True


class HttpInventory:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def deduct(self, reservation: Reservation) -> dict[int, int]:
        lines = reservation.lines
        body = {
            "reservation_id": reservation.id,
            "items": [{"product_id": line.product_id, "quantity": line.quantity} for line in lines],
        }
        try:
            response = await self._client.post("/internal/inventory/deductions", json=body)
        except httpx.HTTPError as exc:
            raise _unavailable("products", exc) from exc
        if response.status_code in (200, 201):
            return _prices(response, lines)
        problem = _problem(response)
        if response.status_code == 409 and problem.get("type") == "insufficient-stock":
            raise OutOfStock(str(problem.get("detail")), problem.get("product_id"))
        if problem.get("type") == "product-not-found":
            product_id = problem.get("product_id")
            raise UnknownProducts(
                [product_id] if isinstance(product_id, int) else [line.product_id for line in lines]
            )
        if response.status_code == 422:
            raise InvalidOrder(f"The inventory refused the order: {problem.get('detail', '')}")
        raise _unavailable("products", response)

    async def release(self, reservation_id: str) -> None:
        try:
            response = await self._client.post(
                f"/internal/inventory/deductions/{reservation_id}/release"
            )
        except httpx.HTTPError as exc:
            raise _unavailable("products", exc) from exc
        if response.status_code != 200:
            raise _unavailable("products", response)


def _prices(response: httpx.Response, lines: Sequence[RequestedLine]) -> dict[int, int]:
    """The unit price in cents of every product of ``lines``, as the deduction answered them
    (``items[i].unit_price``, the public money form). An answer without a price for each is
    unreadable: the stock was taken, so the caller gives it back."""
    try:
        prices = {
            int(item["product_id"]): amount_to_cents(item["unit_price"])
            for item in response.json()["items"]
        }
    except (ValueError, KeyError, TypeError, ArithmeticError) as exc:
        raise DependencyUnavailable("products", "answered an unreadable deduction") from exc
    if any(line.product_id not in prices for line in lines):
        raise DependencyUnavailable("products", "answered a deduction without every price")
    return prices


def _problem(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
