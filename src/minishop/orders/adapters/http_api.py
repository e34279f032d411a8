"""The orders HTTP API: public ``/api/v1/orders`` and the internal payment-result route."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from minishop.orders.adapters.telemetry import OrderMetrics
from minishop.orders.application.services import OrderService
from minishop.orders.domain.model import (
    MAX_ID,
    MAX_LINES,
    MAX_PAYMENT_ID_LENGTH,
    MAX_QUANTITY,
    DependencyUnavailable,
    InvalidOrder,
    InvalidTransition,
    Order,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    OutOfStock,
    PaidAfterExpiry,
    RequestedLine,
    UnknownProducts,
    UnknownUser,
)
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
)
from minishop.platform.idempotency import IdempotencyStore
from minishop.platform.money import cents_to_amount
from minishop.platform.openapi import problem_responses
from minishop.platform.problems import Problem

RefId = bounded_int(1, MAX_ID, examples=[1])
Quantity = bounded_int(1, MAX_QUANTITY, examples=[2])


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    product_id: RefId
    quantity: Quantity


class CreateOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: RefId
    items: list[OrderItemIn] = Field(min_length=1, max_length=MAX_LINES)

    def to_request(self) -> OrderRequest:
        """The order the domain validates (raises InvalidOrder), from the JSON body."""
        return OrderRequest.create(
            self.user_id,
            (RequestedLine(item.product_id, item.quantity) for item in self.items),
        )


class OrderItemOut(BaseModel):
    product_id: int
    quantity: int
    unit_price: Money


_SHOWN_STATUSES = [status.value for status in OrderStatus if status != OrderStatus.RESERVING]


class OrderOut(BaseModel):
    order_id: int
    user_id: int
    status: str = Field(
        description="One of: " + ", ".join(_SHOWN_STATUSES) + ". An order left unpaid past the "
        "payment timeout becomes expiring, then expired: its stock is back in the catalog "
        "and it can no longer be paid.",
        examples=["pending"],
    )
    total: Money
    items: list[OrderItemOut]
    payment_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, order: Order) -> OrderOut:
        return cls(
            order_id=order.id,
            user_id=order.user_id,
            status=order.status.value,
            total=cents_to_amount(order.total_cents),
            items=[
                OrderItemOut(
                    product_id=line.product_id,
                    quantity=line.quantity,
                    unit_price=cents_to_amount(line.unit_price_cents),
                )
                for line in order.lines
            ],
            payment_id=order.payment_id,
            created_at=order.created_at,
        )


class PaymentResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payment_id: SafeText = Field(min_length=1, max_length=MAX_PAYMENT_ID_LENGTH)
    succeeded: StrictBool


def _place_problem(exc: Exception) -> Problem:
    """Why an order was refused, as the client should read it."""
    if isinstance(exc, InvalidOrder):
        return Problem(422, str(exc), type_="invalid-order")
    if isinstance(exc, UnknownUser):
        return Problem(422, str(exc), type_="unknown-user", user_id=exc.user_id)
    if isinstance(exc, UnknownProducts):
        return Problem(422, str(exc), type_="unknown-product", product_ids=exc.product_ids)
    if isinstance(exc, OutOfStock):
        return Problem(409, str(exc), type_="insufficient-stock", product_id=exc.product_id)
    if isinstance(exc, DependencyUnavailable):
        return Problem(503, str(exc), type_="dependency-unavailable", headers={"Retry-After": "1"})
    raise exc


_REJECTION_REASONS = {
    InvalidOrder: "invalid",
    UnknownUser: "unknown_user",
    UnknownProducts: "unknown_product",
    OutOfStock: "insufficient_stock",
    DependencyUnavailable: "dependency_unavailable",
}


def build_router(
    service: OrderService,
    store: IdempotencyStore,
    metrics: OrderMetrics,
    route_class: type[APIRoute] = APIRoute,
) -> APIRouter:
    """``route_class`` may wrap every handler (the memory-leak fault's hook does)."""
    router = APIRouter(route_class=route_class)

    @router.post(
        "/api/v1/orders",
        status_code=201,
        response_model=OrderOut,
        responses=problem_responses(409, 503),
        tags=["orders"],
    )
    async def create_order(
        body: CreateOrder, request: Request, idempotency_key: IdempotencyKey = None
    ) -> Response:
        async def place() -> tuple[int, OrderOut]:
            try:
                order = await service.place(body.to_request())
            except tuple(_REJECTION_REASONS) as exc:
                metrics.rejected(_REJECTION_REASONS[type(exc)])
                raise _place_problem(exc) from exc
            metrics.created(order)
            return 201, OrderOut.of(order)

        return await idempotent_json(request, store, idempotency_key, place)

    @router.get(
        "/api/v1/orders/{order_id}",
        response_model=OrderOut,
        responses=problem_responses(404),
        tags=["orders"],
    )
    async def get_order(order_id: PathId) -> OrderOut:
        try:
            if not id_exists_in_range(order_id, MAX_ID):
                raise OrderNotFound(order_id)
            return OrderOut.of(await service.get(order_id))
        except OrderNotFound as exc:
            raise Problem(404, str(exc), type_="order-not-found") from exc

    @router.get("/api/v1/orders", response_model=PageOf[OrderOut], tags=["orders"])
    async def list_orders(
        page: PageParams, user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None
    ) -> PageOf[OrderOut]:
        found = await service.list(page.limit, page.offset, user_id)
        return PageOf[OrderOut].of([OrderOut.of(order) for order in found], page)

    @router.post(
        "/internal/orders/{order_id}/payment-result",
        response_model=OrderOut,
        responses=problem_responses(404, 409),
        tags=["orders (internal)"],
    )
    async def record_payment(order_id: PathId, body: PaymentResult) -> OrderOut:
        try:
            if not id_exists_in_range(order_id, MAX_ID):
                raise OrderNotFound(order_id)
            order = await service.record_payment(order_id, body.succeeded, body.payment_id)
        except OrderNotFound as exc:
            raise Problem(404, str(exc), type_="order-not-found") from exc
        except InvalidTransition as exc:
            if isinstance(exc, PaidAfterExpiry):  # lost the race to the expiry
                metrics.paid_after_expiry(order_id, body.payment_id)
            raise Problem(409, str(exc), type_="order-not-payable") from exc
        metrics.status_changed(order.status.value)
        return OrderOut.of(order)

    return router
