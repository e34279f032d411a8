"""Small helpers the tests share."""

from __future__ import annotations

import httpx

PROBLEM = "application/problem+json"


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
