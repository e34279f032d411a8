"""A deduction answers each line's unit price: orders prices an order from it, with no
catalog read of its own. On both databases, against the products service alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from minishop.products.bootstrap import create_app
from minishop.products.settings import ProductsSettings
from tests.support.helpers import assert_problem
from tests.support.shop import BASE, INTERNAL_HEADERS, INTERNAL_TOKEN, transport

DEDUCTIONS = "/internal/inventory/deductions"


@pytest.fixture
async def products(
    tmp_path: Path, database_settings: dict[str, dict[str, str]]
) -> AsyncIterator[tuple[httpx.AsyncClient, _Spans]]:
    spans = InMemorySpanExporter()
    settings = ProductsSettings(
        data_dir=tmp_path,
        log_level="WARNING",
        internal_token=INTERNAL_TOKEN,
        admin_token="unused-admin-token",
        restock_interval_seconds=0,
        **database_settings.get("products", {}),
    )
    app = create_app(settings, span_exporter=spans)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport(app), base_url=BASE) as client,
    ):
        yield client, _Spans(app, spans)


class _Spans:
    """The spans the products service ended, after its export queue was flushed."""

    def __init__(self, app: FastAPI, exporter: InMemorySpanExporter) -> None:
        self._provider = app.state.telemetry.tracer_provider
        self._exporter = exporter

    def clear(self) -> None:
        self._provider.force_flush()
        self._exporter.clear()

    def finished(self) -> list[ReadableSpan]:
        self._provider.force_flush()
        return list(self._exporter.get_finished_spans())


async def _product(client: httpx.AsyncClient, sku: str, price: float, stock: int) -> int:
    created = await client.post(
        "/api/v1/products", json={"sku": sku, "name": sku, "price": price, "stock": stock}
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def test_a_deduction_answers_each_lines_unit_price_and_a_replay_the_same(
    products: tuple[httpx.AsyncClient, _Spans],
) -> None:
    client, spans = products
    mug = await _product(client, "PRICED-MUG", 9.99, 10)
    tee = await _product(client, "PRICED-TEE", 1250.5, 10)
    body = {
        "reservation_id": "priced-1",
        "items": [{"product_id": tee, "quantity": 1}, {"product_id": mug, "quantity": 3}],
    }
    spans.clear()

    taken = await client.post(DEDUCTIONS, json=body, headers=INTERNAL_HEADERS)

    assert taken.status_code == 201, taken.text
    expected = [
        {"product_id": mug, "quantity": 3, "unit_price": 9.99},
        {"product_id": tee, "quantity": 1, "unit_price": 1250.5},
    ]
    assert taken.json() == {"reservation_id": "priced-1", "items": expected, "replayed": False}
    statements = [s for s in spans.finished() if "db.query.text" in s.attributes]
    reads = [s for s in statements if s.attributes["db.operation.name"] == "SELECT"]
    assert reads == []  # the prices came back with the stock updates
    updates = [s.attributes["db.query.text"] for s in statements if "UPDATE" in s.name]
    assert len(updates) == 2 and all("RETURNING stock, price_cents" in q for q in updates)

    replayed = await client.post(DEDUCTIONS, json=body, headers=INTERNAL_HEADERS)
    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {"reservation_id": "priced-1", "items": expected, "replayed": True}
    stock = (await client.get("/api/v1/products", params={"ids": f"{mug},{tee}"})).json()
    assert [p["stock"] for p in stock["items"]] == [7, 9]  # taken once


async def test_a_refused_deduction_takes_nothing_and_prices_nothing(
    products: tuple[httpx.AsyncClient, _Spans],
) -> None:
    client, _ = products
    mug = await _product(client, "PRICED-LOW", 3, 2)
    short = {
        "reservation_id": "priced-2",
        "items": [{"product_id": mug, "quantity": 1}, {"product_id": 1, "quantity": 10**4}],
    }
    refused = await client.post(DEDUCTIONS, json=short, headers=INTERNAL_HEADERS)
    assert assert_problem(refused, 409)["type"].endswith("insufficient-stock")
    unknown = {"reservation_id": "priced-3", "items": [{"product_id": 2**31 - 1, "quantity": 1}]}
    missing = await client.post(DEDUCTIONS, json=unknown, headers=INTERNAL_HEADERS)
    assert assert_problem(missing, 422)["type"].endswith("product-not-found")
    assert (await client.get(f"/api/v1/products/{mug}")).json()["stock"] == 2
