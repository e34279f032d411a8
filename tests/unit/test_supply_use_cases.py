"""The supplier's and the expiry's use cases against in-memory fakes of their ports."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from opentelemetry.trace import StatusCode

from minishop.orders.application.expiry import OrderExpiry
from minishop.orders.domain.model import (
    EXPIRABLE,
    DependencyUnavailable,
    Order,
    OrderLine,
    OrderStatus,
)
from minishop.products.application.supplier import Supplier
from minishop.products.domain.model import Restock, RestockPolicy, StockLevel

TIMEOUT = timedelta(minutes=15)


class FakeStock:
    def __init__(self, stock: dict[int, int]) -> None:
        self.stock = stock
        self.before_restock: dict[int, int] = {}  # units orders take between poll and delivery

    async def below(self, threshold: int, limit: int) -> list[StockLevel]:
        low = [StockLevel(pid, units) for pid, units in sorted(self.stock.items())]
        return [level for level in low if level.units < threshold][:limit]

    async def restock(self, product_id: int, units: int, below: int) -> int | None:
        self.stock[product_id] -= self.before_restock.pop(product_id, 0)
        if self.stock[product_id] >= below:
            return None
        self.stock[product_id] += units
        return self.stock[product_id]


class Deliveries:
    def __init__(self) -> None:
        self.restocks: list[Restock] = []

    def restocked(self, restock: Restock) -> None:
        self.restocks.append(restock)


class ExpiryRecord:
    def __init__(self) -> None:
        self.expired_ids: list[int] = []
        self.deferred_ids: list[int] = []

    def expired(self, order: Order) -> None:
        self.expired_ids.append(order.id)

    def deferred(self, order: Order, reason: str) -> None:
        assert "products" in reason
        self.deferred_ids.append(order.id)


async def test_a_round_restocks_what_is_low_in_one_trace(tracer, spans) -> None:
    stock = FakeStock({1: 5, 2: 20, 3: 0, 4: 500})
    events = Deliveries()
    supplier = Supplier(stock, RestockPolicy.create(20, 100), events, tracer)
    delivered = await supplier.restock_low()
    assert delivered == [Restock(1, 95, 100), Restock(3, 100, 100)]
    assert events.restocks == delivered
    assert stock.stock == {1: 100, 2: 20, 3: 100, 4: 500}
    finished = spans.get_finished_spans()
    (round_span,) = [s for s in finished if s.name == "SupplierRestock"]
    products = [s for s in finished if s.name == "RestockProduct"]
    assert [s.attributes["product.id"] for s in products] == [1, 3]
    assert all(s.parent.span_id == round_span.context.span_id for s in products)
    assert round_span.attributes["restock.units"] == 195
    assert await supplier.restock_low() == []  # nothing low: no trace at all
    assert len(spans.get_finished_spans()) == len(finished)


async def test_a_delivery_adds_to_what_orders_left_since_the_poll(tracer, spans) -> None:
    stock = FakeStock({1: 15})
    stock.before_restock[1] = 4  # an order takes 4 units between the poll and the delivery
    supplier = Supplier(stock, RestockPolicy.create(20, 100), Deliveries(), tracer)
    (delivered,) = await supplier.restock_low()
    assert delivered == Restock(1, 85, 96)  # 15 - 4 + 85: the order's units are not lost
    assert stock.stock[1] == 96


async def test_a_product_restocked_meanwhile_gets_no_second_delivery(tracer, spans) -> None:
    stock = FakeStock({1: 15})
    stock.before_restock[1] = -85  # another supplier delivered between our poll and ours
    events = Deliveries()
    supplier = Supplier(stock, RestockPolicy.create(20, 100), events, tracer)
    assert await supplier.restock_low() == []
    assert stock.stock[1] == 100 and events.restocks == []
    (span,) = [s for s in spans.get_finished_spans() if s.name == "RestockProduct"]
    assert span.attributes["restock.result"] == "not_needed"


class FakeOrders:
    def __init__(self) -> None:
        self.rows: dict[int, Order] = {}
        self.updated: dict[int, datetime] = {}

    def add(self, order_id: int, status: OrderStatus, age: timedelta) -> Order:
        order = Order(
            id=order_id,
            user_id=1,
            status=status,
            lines=(OrderLine(1, 2, 500),),
            total_cents=1000,
            reservation_id=f"r-{order_id}",
            payment_id=None,
            created_at=datetime.now(UTC) - age,
        )
        self.rows[order_id] = order
        self.updated[order_id] = order.created_at
        return order

    def move(self, order_id: int, status: OrderStatus) -> None:
        self.rows[order_id] = replace(self.rows[order_id], status=status)
        self.updated[order_id] = datetime.now(UTC)

    async def expiry_candidates(self, unpaid_since: datetime, limit: int) -> list[Order]:
        return [
            order
            for order in self.rows.values()
            if order.status == OrderStatus.EXPIRING
            or (order.status in EXPIRABLE and self.updated[order.id] < unpaid_since)
        ][:limit]

    async def begin_expiry(self, order_id: int, unpaid_since: datetime) -> bool:
        order = self.rows[order_id]
        if order.status not in EXPIRABLE or self.updated[order_id] >= unpaid_since:
            return False
        self.move(order_id, OrderStatus.EXPIRING)
        return True

    async def finish_expiry(self, order_id: int) -> bool:
        if self.rows[order_id].status != OrderStatus.EXPIRING:
            return False
        self.move(order_id, OrderStatus.EXPIRED)
        return True


class FakeInventory:
    def __init__(self, held: set[str]) -> None:
        self.held = held
        self.released: list[str] = []
        self.down = False

    async def deduct(self, reservation) -> None:  # the Inventory port's other half
        raise NotImplementedError

    async def release(self, reservation_id: str) -> None:
        if self.down:
            raise DependencyUnavailable("products", "ConnectError")
        if reservation_id in self.held:
            self.held.discard(reservation_id)
            self.released.append(reservation_id)


def expiry_of(orders: FakeOrders, inventory: FakeInventory, events: ExpiryRecord, tracer):
    return OrderExpiry(orders, inventory, events, tracer, TIMEOUT)


async def test_only_orders_unpaid_past_the_timeout_expire(tracer, spans) -> None:
    orders = FakeOrders()
    orders.add(1, OrderStatus.PENDING, age=timedelta(hours=1))
    orders.add(2, OrderStatus.PAYMENT_FAILED, age=timedelta(hours=1))
    orders.add(3, OrderStatus.PENDING, age=timedelta(minutes=1))  # fresh
    orders.add(4, OrderStatus.PAID, age=timedelta(hours=1))
    inventory = FakeInventory({"r-1", "r-2", "r-3", "r-4"})
    events = ExpiryRecord()
    expired = await expiry_of(orders, inventory, events, tracer).expire_unpaid()
    assert [order.id for order in expired] == [1, 2] == events.expired_ids
    assert inventory.released == ["r-1", "r-2"]
    assert {i: o.status for i, o in orders.rows.items()} == {
        1: OrderStatus.EXPIRED,
        2: OrderStatus.EXPIRED,
        3: OrderStatus.PENDING,
        4: OrderStatus.PAID,
    }
    names = {s.attributes["order.id"]: s for s in spans.get_finished_spans()}
    assert set(names) == {1, 2}
    assert names[1].name == "ExpireOrder"
    assert names[1].attributes["order.expiry_result"] == "expired"


async def test_a_payment_landing_first_keeps_the_order_and_its_stock(tracer, spans) -> None:
    orders = FakeOrders()
    orders.add(1, OrderStatus.PENDING, age=timedelta(hours=1))
    inventory = FakeInventory({"r-1"})
    events = ExpiryRecord()
    expiry = expiry_of(orders, inventory, events, tracer)
    polled = await orders.expiry_candidates(datetime.now(UTC) - TIMEOUT, 10)
    orders.move(1, OrderStatus.PAID)  # between the poll and the conditional update
    orders.expiry_candidates = _returning(polled)  # type: ignore[method-assign]
    assert await expiry.expire_unpaid() == []
    assert orders.rows[1].status == OrderStatus.PAID
    assert inventory.held == {"r-1"} and events.expired_ids == []
    (span,) = spans.get_finished_spans()
    assert span.attributes["order.expiry_result"] == "moved_on"


async def test_a_candidate_read_after_its_payment_landed_keeps_its_stock(tracer, spans) -> None:
    """The poll saw the order unpaid, the rows were read after its payment committed: the
    candidate arrives ``paid`` (PostgreSQL READ COMMITTED, two statements) and is left alone."""
    orders = FakeOrders()
    orders.add(1, OrderStatus.PENDING, age=timedelta(hours=1))
    inventory = FakeInventory({"r-1"})
    events = ExpiryRecord()
    expiry = expiry_of(orders, inventory, events, tracer)
    orders.move(1, OrderStatus.PAID)
    orders.expiry_candidates = _returning([orders.rows[1]])  # type: ignore[method-assign]
    assert await expiry.expire_unpaid() == []
    assert orders.rows[1].status == OrderStatus.PAID
    assert inventory.held == {"r-1"} and inventory.released == []
    (span,) = spans.get_finished_spans()
    assert span.attributes["order.expiry_result"] == "moved_on"


def _returning(orders: list[Order]):
    async def candidates(_unpaid_since: datetime, _limit: int) -> list[Order]:
        return orders

    return candidates


async def test_products_down_leaves_the_order_expiring_until_a_later_round(tracer, spans) -> None:
    orders = FakeOrders()
    orders.add(1, OrderStatus.PENDING, age=timedelta(hours=1))
    inventory = FakeInventory({"r-1"})
    inventory.down = True
    events = ExpiryRecord()
    expiry = expiry_of(orders, inventory, events, tracer)
    assert await expiry.expire_unpaid() == []
    assert orders.rows[1].status == OrderStatus.EXPIRING  # not payable, stock still held
    assert events.deferred_ids == [1] and events.expired_ids == []
    (failed,) = spans.get_finished_spans()
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.attributes["order.expiry_result"] == "deferred"
    inventory.down = False
    assert [order.id for order in await expiry.expire_unpaid()] == [1]
    assert orders.rows[1].status == OrderStatus.EXPIRED
    assert inventory.released == ["r-1"] and events.expired_ids == [1]
    assert await expiry.expire_unpaid() == []  # counted once
