"""Use cases against in-memory fakes of their ports: the rules of the flows, without I/O."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.trace import StatusCode

from minishop.orders.application.services import OrderService
from minishop.orders.domain.model import (
    DependencyUnavailable,
    InvalidOrder,
    InvalidTransition,
    Order,
    OrderLine,
    OrderRequest,
    OrderStatus,
    OutOfStock,
    RequestedLine,
    Reservation,
    UnknownProducts,
    UnknownUser,
)
from minishop.payments.application.services import PaymentService
from minishop.payments.domain.model import (
    ChargeOutcome,
    OrderNotPayable,
    OrderSnapshot,
    Payment,
    PaymentNotFound,
    PaymentStatus,
)


class FakeOrders:
    def __init__(self) -> None:
        self.rows: dict[int, Order] = {}
        self._ids = itertools.count(1)
        self.fail_confirm = False
        self.outcome_writes = 0

    async def add_reserving(self, user_id: int, reservation_id: str) -> Order:
        order = Order(
            id=next(self._ids),
            user_id=user_id,
            status=OrderStatus.RESERVING,
            lines=(),
            total_cents=0,
            reservation_id=reservation_id,
            payment_id=None,
            created_at=datetime.now(UTC),
        )
        self.rows[order.id] = order
        return order

    async def confirm(self, order: Order, lines: Sequence[OrderLine]) -> Order:
        if self.fail_confirm:
            raise RuntimeError("database went away")
        total = sum(line.total_cents for line in lines)
        self.rows[order.id] = replace(
            order, status=OrderStatus.PENDING, lines=tuple(lines), total_cents=total
        )
        return self.rows[order.id]

    async def discard(self, order_id: int) -> None:
        self.rows.pop(order_id, None)

    async def get(self, order_id: int) -> Order | None:
        return self.rows.get(order_id)

    async def list(self, limit: int, offset: int, user_id: int | None) -> list[Order]:
        return list(self.rows.values())[offset : offset + limit]

    async def set_status(self, order_id, expected, new, payment_id) -> bool:
        if self.rows[order_id].status != expected:
            return False
        self.rows[order_id] = replace(self.rows[order_id], status=new, payment_id=payment_id)
        return True

    async def record_outcome(self, order_id, payable, new, payment_id) -> Order | None:
        self.outcome_writes += 1
        order = self.rows.get(order_id)
        if order is None or order.status not in payable:
            return None
        if (order.status, order.payment_id) == (new, payment_id):
            return None
        self.rows[order_id] = replace(order, status=new, payment_id=payment_id)
        return self.rows[order_id]

    async def stale_reserving(self, older_than: timedelta) -> list[Order]:
        return [o for o in self.rows.values() if o.status == OrderStatus.RESERVING]


class FakeUsers:
    def __init__(self, known: set[int]) -> None:
        self.known = known

    async def exists(self, user_id: int) -> bool:
        return user_id in self.known


class FakeInventory:
    def __init__(self, stock: dict[int, int]) -> None:
        self.stock = stock
        self.held: dict[str, tuple[RequestedLine, ...]] = {}
        self.down = False
        self.price = 500

    async def deduct(self, reservation: Reservation) -> dict[int, int]:
        """Products below 100 exist and cost 5.00 (or ``price``); the prices come back."""
        lines = reservation.lines
        if self.down:
            raise DependencyUnavailable("products", "ConnectError")
        unknown = [line.product_id for line in lines if line.product_id >= 100]
        if unknown:
            raise UnknownProducts(unknown)
        if any(self.stock.get(line.product_id, 0) < line.quantity for line in lines):
            raise OutOfStock("not enough")
        for line in lines:
            self.stock[line.product_id] -= line.quantity
        self.held[reservation.id] = lines
        return {line.product_id: self.price for line in lines}

    async def release(self, reservation_id: str) -> None:
        for line in self.held.pop(reservation_id, ()):
            self.stock[line.product_id] += line.quantity


def order_of(user_id: int, product_id: int, quantity: int) -> OrderRequest:
    return OrderRequest.create(user_id, [RequestedLine(product_id, quantity)])


def order_service(tracer, inventory: FakeInventory, orders: FakeOrders | None = None):
    orders = orders or FakeOrders()
    return OrderService(orders, FakeUsers({1}), inventory, tracer), orders


async def test_placing_an_order_takes_stock_and_names_the_span(tracer, spans) -> None:
    inventory = FakeInventory({1: 5})
    service, _orders = order_service(tracer, inventory)
    order = await service.place(order_of(1, 1, 2))
    assert order.status == OrderStatus.PENDING
    assert order.total_cents == 1000
    assert inventory.stock[1] == 3
    (span,) = [s for s in spans.get_finished_spans() if s.name == "CreateOrder"]
    assert span.attributes["order.id"] == order.id
    assert span.attributes["order.total"] == 10.0
    assert span.attributes["order.item_count"] == 2


async def test_out_of_stock_leaves_no_order_behind(tracer) -> None:
    inventory = FakeInventory({1: 1})
    service, orders = order_service(tracer, inventory)
    with pytest.raises(OutOfStock):
        await service.place(order_of(1, 1, 2))
    assert orders.rows == {}
    assert inventory.stock[1] == 1


async def test_a_failure_after_the_deduction_gives_the_stock_back(tracer) -> None:
    inventory = FakeInventory({1: 5})
    orders = FakeOrders()
    orders.fail_confirm = True
    service, _ = order_service(tracer, inventory, orders)
    with pytest.raises(RuntimeError):
        await service.place(order_of(1, 1, 2))
    assert inventory.stock[1] == 5
    assert orders.rows == {}


async def test_reconciliation_releases_what_a_crash_left_reserving(tracer) -> None:
    inventory = FakeInventory({1: 5})
    orders = FakeOrders()
    service, _ = order_service(tracer, inventory, orders)
    await orders.add_reserving(1, "lost-reservation")
    await inventory.deduct(Reservation("lost-reservation", (RequestedLine(1, 2),)))
    assert inventory.stock[1] == 3
    assert await service.reconcile() == 1
    assert inventory.stock[1] == 5
    assert orders.rows == {}


async def test_unknown_user_and_down_inventory_are_refused(tracer) -> None:
    inventory = FakeInventory({1: 5})
    service, orders = order_service(tracer, inventory)
    with pytest.raises(UnknownUser):
        await service.place(order_of(2, 1, 1))
    inventory.down = True
    with pytest.raises(DependencyUnavailable):
        await service.place(order_of(1, 1, 1))
    assert orders.rows == {}
    assert inventory.stock[1] == 5


async def test_an_unknown_product_leaves_no_order_and_takes_no_stock(tracer) -> None:
    inventory = FakeInventory({1: 5})
    service, orders = order_service(tracer, inventory)
    with pytest.raises(UnknownProducts):
        await service.place(OrderRequest.create(1, [RequestedLine(1, 1), RequestedLine(100, 1)]))
    assert orders.rows == {}
    assert inventory.stock[1] == 5


async def test_a_total_too_large_to_record_gives_the_stock_back(tracer) -> None:
    """The prices come with the stock: a total past the column's range is refused after the
    deduction, and the stock taken goes back."""
    inventory = FakeInventory({1: 10_000})
    inventory.price = 10_000_000
    service, orders = order_service(tracer, inventory)
    with pytest.raises(InvalidOrder, match="total"):
        await service.place(order_of(1, 1, 1_000))
    assert orders.rows == {}
    assert inventory.stock[1] == 10_000


async def test_a_payment_outcome_is_one_write_and_a_replay_or_refusal_is_judged(tracer) -> None:
    service, orders = order_service(tracer, FakeInventory({1: 5}))
    order = await service.place(order_of(1, 1, 1))
    failed = await service.record_payment(order.id, False, "p1")
    assert (failed.status, failed.lines) == (OrderStatus.PAYMENT_FAILED, order.lines)
    assert (await service.record_payment(order.id, False, "p1")).status == failed.status  # replay
    paid = await service.record_payment(order.id, True, "p2")
    assert (paid.status, paid.payment_id) == (OrderStatus.PAID, "p2")
    assert (await service.record_payment(order.id, True, "p2")).status == OrderStatus.PAID
    with pytest.raises(InvalidTransition):
        await service.record_payment(order.id, True, "p3")
    assert orders.outcome_writes == 5
    assert orders.rows[order.id].payment_id == "p2"


class FakePayments:
    def __init__(self) -> None:
        self.rows: dict[str, Payment] = {}
        self.renewals = 0
        self.stale: list[str] = []  # ids a test declares left behind by a dead process

    async def start(self, order_id, amount_cents, card_last4) -> Payment:
        if any(
            p.order_id == order_id and p.status != PaymentStatus.FAILED for p in self.rows.values()
        ):
            raise OrderNotPayable("busy")
        payment = Payment(
            id=f"p{len(self.rows) + 1}",
            order_id=order_id,
            amount_cents=amount_cents,
            status=PaymentStatus.PROCESSING,
            reason=None,
            card_last4=card_last4,
            order_synced=False,
            created_at=datetime.now(UTC),
        )
        self.rows[payment.id] = payment
        return payment

    async def renew(self, payment_id: str) -> bool:
        self.renewals += 1
        return self.rows[payment_id].status == PaymentStatus.PROCESSING

    async def finish(self, payment_id: str, outcome: ChargeOutcome) -> Payment:
        if self.rows[payment_id].status != PaymentStatus.PROCESSING:
            raise PaymentNotFound(payment_id)
        status = PaymentStatus.SUCCEEDED if outcome.succeeded else PaymentStatus.FAILED
        self.rows[payment_id] = replace(self.rows[payment_id], status=status, reason=outcome.reason)
        return self.rows[payment_id]

    async def refund(self, payment_id: str, reason: str) -> Payment:
        if self.rows[payment_id].status != PaymentStatus.SUCCEEDED:
            raise PaymentNotFound(payment_id)
        payment = replace(self.rows[payment_id], status=PaymentStatus.REFUNDED, reason=reason)
        self.rows[payment_id] = payment
        return payment

    async def mark_synced(self, payment_id: str) -> None:
        self.rows[payment_id] = replace(self.rows[payment_id], order_synced=True)

    async def get(self, payment_id: str) -> Payment | None:
        return self.rows.get(payment_id)

    async def list(self, limit, offset, order_id) -> list[Payment]:
        return list(self.rows.values())

    async def unsynced(self) -> list[Payment]:
        return [p for p in self.rows.values() if not p.order_synced]

    async def stale_processing(self, older_than) -> list[Payment]:
        return [
            p
            for p in self.rows.values()
            if p.id in self.stale and p.status == PaymentStatus.PROCESSING
        ]


class ScriptedProvider:
    def __init__(self, *outcomes: ChargeOutcome) -> None:
        self.outcomes = list(outcomes)
        self.refunds: list[tuple[str, int]] = []

    async def charge(self, amount_cents: int, order_id: int) -> ChargeOutcome:
        return self.outcomes.pop(0)

    async def refund(self, payment_id: str, amount_cents: int) -> None:
        self.refunds.append((payment_id, amount_cents))


class FakeOrderBook:
    def __init__(self) -> None:
        self.status = "pending"
        self.reachable = True
        self.results: list[tuple[str, bool]] = []

    async def get(self, order_id: int) -> OrderSnapshot | None:
        return OrderSnapshot(order_id, self.status, 2500) if order_id == 1 else None

    async def record_result(self, order_id: int, payment_id: str, succeeded: bool) -> bool:
        if not self.reachable:
            raise DependencyUnavailable("orders", "ConnectError")
        self.results.append((payment_id, succeeded))
        if self.status == "expired":
            return False  # closed: orders refuses any outcome
        self.status = "paid" if succeeded else "payment_failed"
        return True


async def test_a_declined_charge_is_a_failed_payment_with_an_error_span(tracer, spans) -> None:
    book = FakeOrderBook()
    service = PaymentService(
        FakePayments(), ScriptedProvider(ChargeOutcome(False, "card_declined")), book, tracer
    )
    payment = await service.pay(1)
    assert payment.status == PaymentStatus.FAILED
    assert payment.reason == "card_declined"
    assert book.status == "payment_failed"
    (span,) = [s for s in spans.get_finished_spans() if s.name == "ProcessPayment"]
    assert span.attributes["payment.result"] == "failed"
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == "card_declined"


async def test_an_outcome_orders_could_not_hear_is_delivered_by_reconciliation(tracer) -> None:
    book = FakeOrderBook()
    book.reachable = False
    repository = FakePayments()
    service = PaymentService(repository, ScriptedProvider(ChargeOutcome(True)), book, tracer)
    payment = await service.pay(1)
    assert payment.status == PaymentStatus.SUCCEEDED
    assert book.results == []
    book.reachable = True
    assert await service.reconcile() == 1
    assert book.results == [(payment.id, True)]
    assert await service.reconcile() == 0
