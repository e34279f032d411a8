"""The products HTTP API: the public catalog and the internal inventory routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from minishop.platform.http import (
    IdempotencyKey,
    Money,
    PageOf,
    PageParams,
    cents_to_decimal,
    decimal_to_cents,
    idempotent_json,
)
from minishop.platform.idempotency import IdempotencyStore
from minishop.platform.problems import Problem
from minishop.products.adapters.telemetry import InventoryMetrics
from minishop.products.application.services import ProductService
from minishop.products.domain.model import (
    MAX_LINES,
    InsufficientStock,
    InvalidDeduction,
    InvalidProduct,
    Product,
    ProductNotFound,
    ReservationConflict,
    SkuTaken,
)


class CreateProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str = Field(min_length=1, max_length=64, examples=["MUG-001"])
    name: str = Field(min_length=1, max_length=200, examples=["Observability mug"])
    price: Money = Field(gt=0, max_digits=10, decimal_places=2, examples=[12.5])
    stock: int = Field(ge=0, le=1_000_000)


class ProductOut(BaseModel):
    id: int
    sku: str
    name: str
    price: Money
    stock: int

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        return cls(
            id=product.id,
            sku=product.sku,
            name=product.name,
            price=cents_to_decimal(product.price_cents),
            stock=product.stock,
        )


class DeductionLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: int
    quantity: int = Field(gt=0, le=10_000)


class DeductRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reservation_id: str = Field(min_length=1, max_length=64)
    items: list[DeductionLine] = Field(min_length=1, max_length=MAX_LINES)


class DeductionOut(BaseModel):
    reservation_id: str
    items: list[DeductionLine]
    replayed: bool


class ReleaseOut(BaseModel):
    reservation_id: str
    released: bool


def _parse_ids(ids: str | None) -> list[int] | None:
    if ids is None:
        return None
    try:
        parsed = [int(part) for part in ids.split(",") if part.strip()]
    except ValueError as exc:
        raise Problem(422, "ids must be a comma-separated list of product ids.") from exc
    if len(parsed) > 100:
        raise Problem(422, "ask for at most 100 ids at once.")
    return parsed


def build_router(
    service: ProductService, store: IdempotencyStore, metrics: InventoryMetrics
) -> APIRouter:
    router = APIRouter()

    @router.post("/api/v1/products", status_code=201, response_model=ProductOut, tags=["catalog"])
    async def create_product(
        body: CreateProduct, request: Request, idempotency_key: IdempotencyKey = None
    ) -> Response:
        async def add() -> tuple[int, ProductOut]:
            try:
                product = await service.add(
                    body.sku, body.name, decimal_to_cents(body.price), body.stock
                )
            except InvalidProduct as exc:
                raise Problem(422, str(exc), type_="invalid-product") from exc
            except SkuTaken as exc:
                raise Problem(409, str(exc), type_="sku-taken") from exc
            metrics.set_stock({product.id: product.stock})
            return 201, ProductOut.of(product)

        return await idempotent_json(request, store, idempotency_key, add)

    @router.get("/api/v1/products", response_model=PageOf[ProductOut], tags=["catalog"])
    async def list_products(
        page: PageParams,
        ids: Annotated[str | None, Query(description="Comma-separated product ids.")] = None,
    ) -> PageOf[ProductOut]:
        found = await service.list(page.limit, page.offset, _parse_ids(ids))
        return PageOf[ProductOut].of([ProductOut.of(product) for product in found], page)

    @router.get("/api/v1/products/{product_id}", response_model=ProductOut, tags=["catalog"])
    async def get_product(product_id: int) -> ProductOut:
        try:
            return ProductOut.of(await service.get(product_id))
        except ProductNotFound as exc:
            raise Problem(404, str(exc), type_="product-not-found") from exc

    @router.post(
        "/internal/inventory/deductions",
        status_code=201,
        response_model=DeductionOut,
        tags=["inventory (internal)"],
    )
    async def deduct(body: DeductRequest, response: Response) -> DeductionOut:
        try:
            result = await service.deduct(
                body.reservation_id, [(item.product_id, item.quantity) for item in body.items]
            )
        except InvalidDeduction as exc:
            raise Problem(422, str(exc), type_="invalid-deduction") from exc
        except ProductNotFound as exc:
            raise Problem(
                422, str(exc), type_="product-not-found", product_id=exc.product_id
            ) from exc
        except InsufficientStock as exc:
            metrics.insufficient()
            raise Problem(
                409,
                str(exc),
                type_="insufficient-stock",
                product_id=exc.product_id,
                requested=exc.requested,
                available=exc.available,
            ) from exc
        except ReservationConflict as exc:
            raise Problem(409, str(exc), type_="reservation-conflict") from exc
        if result.replayed:
            response.status_code = 200
        else:
            metrics.deducted(result.stock_after)
        return DeductionOut(
            reservation_id=result.deduction.reservation_id,
            items=[
                DeductionLine(product_id=line.product_id, quantity=line.quantity)
                for line in result.deduction.lines
            ],
            replayed=result.replayed,
        )

    @router.post(
        "/internal/inventory/deductions/{reservation_id}/release",
        response_model=ReleaseOut,
        tags=["inventory (internal)"],
    )
    async def release(reservation_id: str) -> ReleaseOut:
        stock_after = await service.release(reservation_id)
        if stock_after:
            metrics.released(stock_after)
        return ReleaseOut(reservation_id=reservation_id, released=bool(stock_after))

    return router
