"""Small helpers the tests share."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

PROBLEM = "application/problem+json"

T = TypeVar("T")
Message = str | Callable[[], str]
"""What a wait was for; a callable for text known only when it fails (a log's tail)."""


def _timed_out(message: Message, timeout: float) -> AssertionError:
    text = message() if callable(message) else message
    return AssertionError(f"{text}: not within {timeout:g} s")


def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    interval: float,
    message: Message,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Every test that waits for something the shop does in its own time (a process
    starting, a line reaching a log, an alert firing) waits the same way: try, then
    sleep ``interval``, for at most ``timeout`` seconds, trying once more at the end.
    It then fails with ``message``, which says what was awaited. An exception listed
    in ``ignoring`` counts as "not yet" (a server still starting refuses connections);
    any other one fails the test at once (the process being waited for died).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except ignoring:
            value = None
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise _timed_out(message, timeout)
        time.sleep(interval)


async def wait_until_async(
    predicate: Callable[[], Awaitable[T]],
    *,
    timeout: float,  # noqa: ASYNC109 - wait_until's signature; each try runs to its end
    interval: float,
    message: Message,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """``wait_until`` for a coroutine predicate, sleeping without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = await predicate()
        except ignoring:
            value = None
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() >= deadline:
            raise _timed_out(message, timeout)
        await asyncio.sleep(interval)


def assert_problem(response: httpx.Response, status: int) -> dict:
    """A problem document with the status and a readable detail (RFC 9457)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["detail"], str) and len(body["detail"]) > 5
    return body


async def create_product(
    client: httpx.AsyncClient, sku: str, stock: int, price: float = 10.0
) -> int:
    response = await client.post(
        "/api/v1/products",
        json={"sku": sku, "name": f"Product {sku}", "price": price, "stock": stock},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def stock_of(client: httpx.AsyncClient, product_id: int) -> int:
    response = await client.get(f"/api/v1/products/{product_id}")
    assert response.status_code == 200, response.text
    return response.json()["stock"]


async def count(client: httpx.AsyncClient, collection: str) -> int:
    response = await client.get(f"/api/v1/{collection}", params={"limit": 100})
    assert response.status_code == 200, response.text
    return len(response.json()["items"])


def order_body(product_id: int = 1, quantity: int = 2, user_id: int = 1) -> dict:
    return {"user_id": user_id, "items": [{"product_id": product_id, "quantity": quantity}]}


async def metric_samples(client: httpx.AsyncClient, family: str) -> dict[tuple, float]:
    """The samples of one metric family a service serves, keyed by their sorted labels:
    ``{(("service", "orders"),): 1.0}``."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for found in text_string_to_metric_families(response.text)
        if found.name == family
        for sample in found.samples
    }


def statement(span: object) -> str:
    """The SQL a database span ran; empty for any other span."""
    attributes = getattr(span, "attributes", None) or {}
    return str(attributes.get("db.query.text", ""))
