"""The products HTTP API: the public catalog and the internal inventory routes."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from minishop.platform.http import (
    IdempotencyKey,
    Money,
    PageOf,
    PageParams,
    PathId,
    SafeText,
    bounded_int,
    id_exists_in_range,
    idempotent_json,
    is_storable_text,
    money_in,
)
from minishop.platform.idempotency import IdempotencyStore
from minishop.platform.money import amount_to_cents, cents_to_amount
from minishop.platform.openapi import problem_responses
from minishop.platform.problems import Problem
from minishop.products.adapters.telemetry import InventoryMetrics
from minishop.products.application.services import ProductService
from minishop.products.domain.model import (
    MAX_IDS_PER_LOOKUP,
    MAX_LINES,
    MAX_NAME_LENGTH,
    MAX_PRICE_CENTS,
    MAX_PRODUCT_ID,
    MAX_QUANTITY,
    MAX_RESERVATION_ID_LENGTH,
    MAX_SKU_LENGTH,
    MAX_STOCK,
    Deduction,
    DeductionResult,
    InsufficientStock,
    InvalidDeduction,
    InvalidProduct,
    Product,
    ProductNotFound,
    ReservationConflict,
    SkuTaken,
    StockLevel,
    StockLine,
)

ProductId = bounded_int(1, MAX_PRODUCT_ID, examples=[1])
Quantity = bounded_int(1, MAX_QUANTITY, examples=[2])
Stock = bounded_int(0, MAX_STOCK, examples=[10])
Price = money_in(Decimal(0), cents_to_amount(MAX_PRICE_CENTS))
ReservationId = Annotated[SafeText, Field(min_length=1, max_length=MAX_RESERVATION_ID_LENGTH)]


class CreateProduct(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: SafeText = Field(min_length=1, max_length=MAX_SKU_LENGTH, examples=["MUG-001"])
    name: SafeText = Field(min_length=1, max_length=MAX_NAME_LENGTH, examples=["Observability mug"])
    price: Price = Field(examples=[12.5])
    stock: Stock


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
            price=cents_to_amount(product.price_cents),
            stock=product.stock,
        )


class DeductionLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: ProductId
    quantity: Quantity


class DeductRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reservation_id: ReservationId
    items: list[DeductionLine] = Field(min_length=1, max_length=MAX_LINES)

    def to_deduction(self) -> Deduction:
        """The deduction the domain validates (raises InvalidDeduction), from the JSON body."""
        return Deduction.create(
            self.reservation_id,
            (StockLine(item.product_id, item.quantity) for item in self.items),
        )


class DeductedLine(BaseModel):
    """A line taken, with its product's price: the caller prices its order from the
    deduction's answer instead of reading the catalog in a call of its own."""

    product_id: int
    quantity: int
    unit_price: Money = Field(examples=[12.5])


class DeductionOut(BaseModel):
    reservation_id: str
    items: list[DeductedLine]
    replayed: bool

    @classmethod
    def of(cls, result: DeductionResult) -> DeductionOut:
        return cls(
            reservation_id=result.deduction.reservation_id,
            items=[
                DeductedLine(
                    product_id=line.product_id,
                    quantity=line.quantity,
                    unit_price=cents_to_amount(price_cents),
                )
                for line, price_cents in zip(
                    result.deduction.lines, result.unit_prices_cents, strict=True
                )
            ],
            replayed=result.replayed,
        )


class ReleaseOut(BaseModel):
    reservation_id: str
    released: bool


_ID = re.compile(r"[0-9]{1,10}")


def _parse_ids(ids: str | None) -> list[int] | None:
    """``?ids=1,2,3`` in ASCII digits only: ``int()`` would take ``+1``, ``1_0``, other scripts."""
    if ids is None:
        return None
    parts = [part.strip() for part in ids.split(",") if part.strip()]
    if len(parts) > MAX_IDS_PER_LOOKUP:
        raise Problem(
            422, f"ask for at most {MAX_IDS_PER_LOOKUP} ids at once.", type_="validation-error"
        )
    if not all(_ID.fullmatch(part) for part in parts):
        raise Problem(
            422, "ids must be a comma-separated list of product ids.", type_="validation-error"
        )
    parsed = [int(part) for part in parts]
    if not all(id_exists_in_range(pid, MAX_PRODUCT_ID) for pid in parsed):
        raise Problem(
            422, f"product ids are between 1 and {MAX_PRODUCT_ID}.", type_="validation-error"
        )
    return parsed


def build_router(
    service: ProductService, store: IdempotencyStore, metrics: InventoryMetrics
) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/v1/products",
        status_code=201,
        response_model=ProductOut,
        responses=problem_responses(409),
        tags=["catalog"],
    )
    async def create_product(
        body: CreateProduct, request: Request, idempotency_key: IdempotencyKey = None
    ) -> Response:
        async def add() -> tuple[int, ProductOut]:
            try:
                product = await service.add(
                    body.sku, body.name, amount_to_cents(body.price), body.stock
                )
            except InvalidProduct as exc:
                raise Problem(422, str(exc), type_="invalid-product") from exc
            except SkuTaken as exc:
                raise Problem(409, str(exc), type_="sku-taken") from exc
            metrics.set_stock([StockLevel(product.id, product.stock)])
            return 201, ProductOut.of(product)

        return await idempotent_json(request, store, idempotency_key, add)

    @router.get("/api/v1/products", response_model=PageOf[ProductOut], tags=["catalog"])
    async def list_products(
        page: PageParams,
        ids: Annotated[
            str | None,
            Query(description=f"Comma-separated product ids, at most {MAX_IDS_PER_LOOKUP}."),
        ] = None,
    ) -> PageOf[ProductOut]:
        found = await service.list(page.limit, page.offset, _parse_ids(ids))
        return PageOf[ProductOut].of([ProductOut.of(product) for product in found], page)

    @router.get(
        "/api/v1/products/{product_id}",
        response_model=ProductOut,
        responses=problem_responses(404),
        tags=["catalog"],
    )
    async def get_product(product_id: PathId) -> ProductOut:
        try:
            if not id_exists_in_range(product_id, MAX_PRODUCT_ID):
                raise ProductNotFound(product_id)
            return ProductOut.of(await service.get(product_id))
        except ProductNotFound as exc:
            raise Problem(404, str(exc), type_="product-not-found") from exc

    @router.post(
        "/internal/inventory/deductions",
        status_code=201,
        response_model=DeductionOut,
        responses={
            200: {"model": DeductionOut, "description": "The same deduction, already taken."},
            **problem_responses(409),
        },
        tags=["inventory (internal)"],
    )
    async def deduct(body: DeductRequest, response: Response) -> DeductionOut:
        try:
            result = await service.deduct(body.to_deduction())
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
        return DeductionOut.of(result)

    @router.post(
        "/internal/inventory/deductions/{reservation_id}/release",
        response_model=ReleaseOut,
        tags=["inventory (internal)"],
    )
    async def release(reservation_id: str) -> ReleaseOut:
        """Idempotent: an id no reservation can have is released already, like an unknown one."""
        if len(reservation_id) > MAX_RESERVATION_ID_LENGTH or not is_storable_text(reservation_id):
            return ReleaseOut(reservation_id=reservation_id, released=False)
        release = await service.release(reservation_id)
        if release.released:
            metrics.released(release.stock_after)
        return ReleaseOut(reservation_id=reservation_id, released=release.released)

    return router
