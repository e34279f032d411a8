"""The rules of a shop that runs for hours: the supplier's policy, expiry's status moves,
and the settings of both, which refuse what cannot work before the service starts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from minishop.orders.domain.model import (
    InvalidTransition,
    Order,
    OrderLine,
    OrderStatus,
    PaidAfterExpiry,
)
from minishop.orders.settings import OrdersSettings
from minishop.payments.domain.model import OrderNotPayable, OrderSnapshot
from minishop.products.domain.model import InvalidRestockPolicy, RestockPolicy
from minishop.products.settings import ProductsSettings


def test_a_product_below_the_threshold_is_brought_back_to_the_target() -> None:
    policy = RestockPolicy.create(threshold=20, target=100)
    assert policy.units_for(0) == 100
    assert policy.units_for(19) == 81
    assert policy.units_for(20) == 0  # at the threshold: not low
    assert policy.units_for(500) == 0


@pytest.mark.parametrize(("threshold", "target"), [(0, 10), (10, 10), (20, 5), (5, 2_000_000)])
def test_a_policy_that_cannot_work_is_refused(threshold: int, target: int) -> None:
    with pytest.raises(InvalidRestockPolicy):
        RestockPolicy.create(threshold, target)


def test_supplier_settings_default_on_and_zero_turns_it_off() -> None:
    settings = ProductsSettings()
    assert settings.supplier_on
    assert (settings.restock_threshold, settings.restock_target) == (20, 100)
    assert not ProductsSettings(restock_interval_seconds=0).supplier_on


@pytest.mark.parametrize(
    "values",
    [
        {"restock_threshold": 100, "restock_target": 100},
        {"restock_threshold": 50, "restock_target": 40},
        {"restock_interval_seconds": -1},
        {"restock_interval_seconds": 0.001},
        {"restock_interval_seconds": float("inf")},
        {"restock_threshold": 0},
    ],
)
def test_supplier_settings_that_cannot_work_are_refused(values: dict) -> None:
    with pytest.raises(ValidationError):
        ProductsSettings(**values)


def test_supplier_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRODUCTS_RESTOCK_INTERVAL_SECONDS", "2.5")
    monkeypatch.setenv("PRODUCTS_RESTOCK_THRESHOLD", "5")
    monkeypatch.setenv("PRODUCTS_RESTOCK_TARGET", "50")
    settings = ProductsSettings()
    assert (settings.restock_interval_seconds, settings.restock_threshold) == (2.5, 5)
    assert settings.restock_target == 50
    monkeypatch.setenv("PRODUCTS_RESTOCK_TARGET", "5")
    with pytest.raises(ValidationError, match="restock_threshold"):
        ProductsSettings()


def test_payment_timeout_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OrdersSettings().payment_timeout_seconds == 900
    assert OrdersSettings().orders_expire
    assert not OrdersSettings(payment_timeout_seconds=0).orders_expire
    monkeypatch.setenv("ORDERS_PAYMENT_TIMEOUT_SECONDS", "2")
    assert OrdersSettings().payment_timeout_seconds == 2
    for bad in ("-1", "inf", "nan", "1e12", "soon"):
        monkeypatch.setenv("ORDERS_PAYMENT_TIMEOUT_SECONDS", bad)
        with pytest.raises(ValidationError):
            OrdersSettings()
    monkeypatch.delenv("ORDERS_PAYMENT_TIMEOUT_SECONDS")
    with pytest.raises(ValidationError):
        OrdersSettings(expiry_interval_seconds=0)


def _order(status: OrderStatus) -> Order:
    return Order(
        id=7,
        user_id=1,
        status=status,
        lines=(OrderLine(1, 2, 500),),
        total_cents=1000,
        reservation_id="r-7",
        payment_id=None,
        created_at=datetime.now(UTC),
    )


@pytest.mark.parametrize("status", [OrderStatus.EXPIRING, OrderStatus.EXPIRED])
def test_an_expired_order_cannot_be_paid(status: OrderStatus) -> None:
    with pytest.raises(InvalidTransition, match=f"is {status.value} and cannot be paid") as failed:
        _order(status).after_payment(False, "pay-1")
    assert not isinstance(failed.value, PaidAfterExpiry)
    # A charge that succeeded all the same lost the race to the expiry: owed back.
    with pytest.raises(PaidAfterExpiry, match=f"is {status.value} and cannot be paid"):
        _order(status).after_payment(True, "pay-1")
    # Payments reads the status over HTTP and refuses the charge before it starts.
    with pytest.raises(OrderNotPayable, match="cannot be paid"):
        OrderSnapshot(7, status.value, 1000).ensure_payable()
