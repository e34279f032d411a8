"""The payments HTTP API.

The provider's faults are switched with the fault flags (``minishop chaos``), not here:
a payment whose provider cannot be reached is a 503 problem (``provider-unreachable``,
retry after ``Retry-After``), because the provider, not the card, failed and nothing was
charged; the payment itself is kept ``failed`` with reason ``provider_unreachable``.
503 rather than 502: no answer came back from the provider at all (502 is for an
upstream that answered something unusable), and like every other unavailable
dependency of this service it is worth retrying shortly.

A charge that succeeded after its order closed (expired, or paid by another payment) is
refunded and answered 409 ``order-closed``, naming the ``refunded`` payment; the answer is
kept under the request's Idempotency-Key like a declined payment, so a replay repeats it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from minishop.observability import mark_failure
from minishop.observability.logging import get_logger
from minishop.payments.adapters.telemetry import PaymentMetrics
from minishop.payments.application.services import PaymentService
from minishop.payments.domain.model import (
    MAX_CARD_NUMBER_LENGTH,
    MAX_ORDER_ID,
    MAX_PAYMENT_ID_LENGTH,
    ORDER_CLOSED,
    PROVIDER_UNREACHABLE,
    DependencyUnavailable,
    InvalidPayment,
    OrderNotFound,
    OrderNotPayable,
    Payment,
    PaymentNotFound,
    PaymentStatus,
    ProviderUnreachable,
)
from minishop.platform.http import (
    REPLAYED_HEADER,
    IdempotencyKey,
    Money,
    PageOf,
    PageParams,
    SafeText,
    bounded_int,
    idempotent_json,
    is_storable_text,
)
from minishop.platform.idempotency import IdempotencyStore
from minishop.platform.money import cents_to_amount, cents_to_number
from minishop.platform.openapi import problem_response, problem_responses
from minishop.platform.problems import Problem

_log = get_logger("minishop.payments")


OrderId = bounded_int(1, MAX_ORDER_ID, examples=[1])


class PayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    order_id: OrderId
    card_number: SafeText | None = Field(
        default=None,
        max_length=MAX_CARD_NUMBER_LENGTH,
        pattern=r"^[0-9 -]+$",
        description="Optional; ASCII digits with spaces or hyphens. Only the last four are kept.",
        examples=["4242 4242 4242 4242"],
    )


class PaymentOut(BaseModel):
    payment_id: str
    order_id: int
    status: str
    amount: Money
    reason: str | None = None
    card_last4: str | None = None
    created_at: datetime

    @classmethod
    def of(cls, payment: Payment) -> PaymentOut:
        return cls(
            payment_id=payment.id,
            order_id=payment.order_id,
            status=payment.status.value,
            amount=cents_to_amount(payment.amount_cents),
            reason=payment.reason,
            card_last4=payment.card_last4,
            created_at=payment.created_at,
        )


UNREACHABLE_DESCRIPTION = (
    "The orders service or the payment provider cannot be reached (type"
    " `dependency-unavailable` or `provider-unreachable`); nothing was charged. Retry after"
    " Retry-After. A provider that cannot be reached leaves the payment `failed` with reason"
    " `provider_unreachable`, named in the problem's `payment_id` and `reason`."
)


CONFLICT_DESCRIPTION = (
    "The order cannot be paid: paid already, being paid, or closed (type `order-not-payable`;"
    " nothing was charged). Or it closed (expired, or paid by another payment) while this"
    " charge ran (type `order-closed`): the charge was refunded, the payment is `refunded`"
    " with reason `order_closed`, named in the problem's `payment_id` and `reason`."
)


def build_router(
    service: PaymentService,
    store: IdempotencyStore,
    metrics: PaymentMetrics,
) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/api/v1/payments",
        response_model=PaymentOut,
        responses={
            402: {"model": PaymentOut, "description": "The provider declined the charge."},
            **problem_responses(404),
            409: problem_response(409, CONFLICT_DESCRIPTION),
            503: problem_response(503, UNREACHABLE_DESCRIPTION),
        },
        tags=["payments"],
    )
    async def pay(
        body: PayRequest, request: Request, idempotency_key: IdempotencyKey = None
    ) -> Response:
        async def charge() -> tuple[int, PaymentOut]:
            try:
                payment = await service.pay(body.order_id, body.card_number)
            except InvalidPayment as exc:
                raise Problem(422, str(exc), type_="invalid-payment") from exc
            except OrderNotFound as exc:
                raise Problem(404, str(exc), type_="order-not-found") from exc
            except OrderNotPayable as exc:
                raise Problem(409, str(exc), type_="order-not-payable") from exc
            except DependencyUnavailable as exc:
                raise Problem(
                    503, str(exc), type_="dependency-unavailable", headers={"Retry-After": "1"}
                ) from exc
            except ProviderUnreachable as exc:
                raise _unreachable(request, exc, metrics) from exc
            metrics.charged(payment)
            if payment.status == PaymentStatus.REFUNDED:
                return 409, PaymentOut.of(payment)  # refunded and logged by the use case
            if payment.status == PaymentStatus.FAILED:
                _log.warning(
                    f"payment failed: {payment.reason}",
                    reason=payment.reason,
                    order_id=payment.order_id,
                    payment_id=payment.id,
                    amount=cents_to_number(payment.amount_cents),
                    card_last4=payment.card_last4,
                )
                return 402, PaymentOut.of(payment)
            _log.info(
                "payment succeeded",
                order_id=payment.order_id,
                payment_id=payment.id,
                amount=cents_to_number(payment.amount_cents),
            )
            return 200, PaymentOut.of(payment)

        response = await idempotent_json(request, store, idempotency_key, charge)
        if response.status_code == 402:
            reason = PaymentOut.model_validate_json(response.body).reason
            if reason:  # without one, the middleware counts the 402 as ``http_402``
                mark_failure(request, reason)
        elif response.status_code == 409:  # the only 409 kept: a charge refunded
            raise _order_closed(request, response)
        return response

    @router.get(
        "/api/v1/payments/{payment_id}",
        response_model=PaymentOut,
        responses=problem_responses(404),
        tags=["payments"],
    )
    async def get_payment(payment_id: str) -> PaymentOut:
        try:
            if len(payment_id) > MAX_PAYMENT_ID_LENGTH or not is_storable_text(payment_id):
                raise PaymentNotFound(payment_id)  # no stored payment can have this id
            return PaymentOut.of(await service.get(payment_id))
        except PaymentNotFound as exc:
            raise Problem(404, str(exc), type_="payment-not-found") from exc

    @router.get("/api/v1/payments", response_model=PageOf[PaymentOut], tags=["payments"])
    async def list_payments(
        page: PageParams, order_id: Annotated[int | None, Query(ge=1, le=MAX_ORDER_ID)] = None
    ) -> PageOf[PaymentOut]:
        found = await service.list(page.limit, page.offset, order_id)
        return PageOf[PaymentOut].of([PaymentOut.of(payment) for payment in found], page)

    return router


def _order_closed(request: Request, response: Response) -> Problem:
    """The problem answering a charge refunded because its order closed while it ran."""
    payment = PaymentOut.model_validate_json(response.body)
    mark_failure(request, ORDER_CLOSED)
    replayed = response.headers.get(REPLAYED_HEADER)
    return Problem(
        409,
        f"Order {payment.order_id} was closed (expired or paid) while this payment ran;"
        " the charge was refunded.",
        type_="order-closed",
        headers={REPLAYED_HEADER: replayed} if replayed else None,
        payment_id=payment.payment_id,
        reason=ORDER_CLOSED,
    )


def _unreachable(request: Request, exc: ProviderUnreachable, metrics: PaymentMetrics) -> Problem:
    """Count, log and answer a payment whose provider could not be reached."""
    payment = exc.payment
    metrics.provider_unreachable(payment)
    mark_failure(request, PROVIDER_UNREACHABLE)
    # "payment failed" like every failed payment's line, so one log search finds them all.
    _log.error(
        "payment failed: payment provider unreachable",
        reason=PROVIDER_UNREACHABLE,
        error=exc.detail,
        order_id=payment.order_id if payment else None,
        payment_id=payment.id if payment else None,
    )
    extensions = {"payment_id": payment.id, "reason": PROVIDER_UNREACHABLE} if payment else {}
    return Problem(
        503,
        "The payment provider cannot be reached; nothing was charged. Retry shortly.",
        type_="provider-unreachable",
        headers={"Retry-After": "1"},
        **extensions,
    )
