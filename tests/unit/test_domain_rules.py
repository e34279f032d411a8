"""Domain rules, free of frameworks and databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from minishop.orders.domain.model import (
    InvalidOrder,
    InvalidTransition,
    Order,
    OrderLine,
    OrderRequest,
    OrderStatus,
    RequestedLine,
    UnknownProducts,
    price_lines,
)
from minishop.payments.domain.model import (
    InvalidPayment,
    OrderNotPayable,
    OrderSnapshot,
    card_last4,
)
from minishop.products.domain.model import (
    Deduction,
    InvalidDeduction,
    InvalidProduct,
    NewProduct,
    StockLine,
)
from minishop.users.domain.model import InvalidUser, NewUser


def requested(*pairs: tuple[int, int]) -> list[RequestedLine]:
    return [RequestedLine(product_id, quantity) for product_id, quantity in pairs]


def stock_lines(*pairs: tuple[int, int]) -> list[StockLine]:
    return [StockLine(product_id, quantity) for product_id, quantity in pairs]


def test_order_request_merges_repeated_products_and_sorts_them() -> None:
    request = OrderRequest.create(7, requested((3, 1), (1, 2), (3, 4)))
    assert [(line.product_id, line.quantity) for line in request.lines] == [(1, 2), (3, 5)]
    assert request.item_count == 7


@pytest.mark.parametrize(
    ("user_id", "items"),
    [(0, [(1, 1)]), (1, []), (1, [(1, 0)]), (1, [(1, -2)]), (1, [(0, 1)]), (1, [(1, 10_001)])],
)
def test_order_request_refuses_what_cannot_be_an_order(user_id: int, items: list) -> None:
    with pytest.raises(InvalidOrder):
        OrderRequest.create(user_id, requested(*items))


def test_lines_are_priced_from_the_catalog_and_unknown_products_refused() -> None:
    request = OrderRequest.create(1, requested((1, 2), (2, 1)))
    lines = price_lines(request, {1: 1250, 2: 399})
    assert sum(line.total_cents for line in lines) == 2899
    with pytest.raises(UnknownProducts) as refused:
        price_lines(request, {1: 1250})
    assert refused.value.product_ids == [2]


def _order(status: OrderStatus, payment_id: str | None = None) -> Order:
    return Order(
        id=1,
        user_id=1,
        status=status,
        lines=(OrderLine(1, 1, 100),),
        total_cents=100,
        reservation_id="r",
        payment_id=payment_id,
        created_at=datetime.now(UTC),
    )


def test_payment_outcomes_move_an_order_and_never_pay_it_twice() -> None:
    assert _order(OrderStatus.PENDING).after_payment(True, "p1") == OrderStatus.PAID
    assert _order(OrderStatus.PENDING).after_payment(False, "p1") == OrderStatus.PAYMENT_FAILED
    assert _order(OrderStatus.PAYMENT_FAILED).after_payment(True, "p2") == OrderStatus.PAID
    assert _order(OrderStatus.PAID, "p1").after_payment(True, "p1") == OrderStatus.PAID
    with pytest.raises(InvalidTransition):
        _order(OrderStatus.PAID, "p1").after_payment(True, "p2")
    with pytest.raises(InvalidTransition):
        _order(OrderStatus.RESERVING).after_payment(True, "p1")


def test_only_pending_or_failed_orders_are_payable() -> None:
    OrderSnapshot(1, "pending", 100).ensure_payable()
    OrderSnapshot(1, "payment_failed", 100).ensure_payable()
    for status in ("paid", "reserving"):
        with pytest.raises(OrderNotPayable):
            OrderSnapshot(1, status, 100).ensure_payable()


def test_only_the_last_four_card_digits_are_kept() -> None:
    assert card_last4("4242 4242 4242 4242") == "4242"
    assert card_last4(None) is None
    for bad in ("4242", "abcd efgh ijkl", "1" * 20):
        with pytest.raises(InvalidPayment):
            card_last4(bad)


def test_deduction_validates_and_orders_its_lines() -> None:
    deduction = Deduction.create("r-1", stock_lines((5, 1), (2, 2), (5, 1)))
    assert [(line.product_id, line.quantity) for line in deduction.lines] == [(2, 2), (5, 2)]
    for refused in ([], [(1, 0)], [(1, -1)]):
        with pytest.raises(InvalidDeduction):
            Deduction.create("r-1", stock_lines(*refused))
    with pytest.raises(InvalidDeduction):
        Deduction.create(" ", stock_lines((1, 1)))


def test_new_products_and_users_are_normalised_or_refused() -> None:
    assert NewProduct.create(" mug-1 ", " Big  mug ", 100, 0).sku == "MUG-1"
    for args in (("", "n", 1, 1), ("s", "", 1, 1), ("s", "n", 0, 1), ("s", "n", 1, -1)):
        with pytest.raises(InvalidProduct):
            NewProduct.create(*args)
    assert NewUser.create(" Ada@Example.COM ", "Ada  Lovelace").email == "ada@example.com"
    for email, name in (("no-at-sign", "A"), ("a@b", "A"), ("a@b.io", " ")):
        with pytest.raises(InvalidUser):
            NewUser.create(email, name)
