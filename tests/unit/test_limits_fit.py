"""Limits one service passes on to another fit within the other's.

Services never import each other, so each domain owns its limits and a client uses
its own domain's. What keeps them consistent is this test (tests may import both):
whatever orders accepts, products and users accept when orders passes it on, and
whatever payments passes on, orders accepts.
"""

from __future__ import annotations

import uuid

from minishop.orders.domain import model as orders
from minishop.payments.domain import model as payments
from minishop.platform.http import INTEGER_MAX, MAX_PAGE_SIZE
from minishop.products.domain import model as products
from minishop.users.domain import model as users


def test_an_orders_lines_fit_one_deduction_at_products() -> None:
    assert orders.MAX_LINES <= products.MAX_LINES
    assert orders.MAX_QUANTITY <= products.MAX_QUANTITY  # per product, after merging lines
    assert len(uuid.uuid4().hex) <= products.MAX_RESERVATION_ID_LENGTH  # orders' reservation ids


def test_an_orders_products_are_priced_with_one_catalog_lookup() -> None:
    """The catalog client asks for ``MAX_LINES`` ids in one page of ``MAX_LINES`` items."""
    assert orders.MAX_LINES <= products.MAX_IDS_PER_LOOKUP
    assert orders.MAX_LINES <= MAX_PAGE_SIZE


def test_ids_orders_accepts_can_exist_where_orders_looks_them_up() -> None:
    assert orders.MAX_ID <= products.MAX_PRODUCT_ID
    assert orders.MAX_ID <= users.MAX_USER_ID


def test_what_payments_reports_to_orders_fits_orders() -> None:
    assert payments.MAX_ORDER_ID <= orders.MAX_ID
    assert payments.MAX_PAYMENT_ID_LENGTH <= orders.MAX_PAYMENT_ID_LENGTH
    assert len(str(uuid.uuid4())) <= payments.MAX_PAYMENT_ID_LENGTH


def test_every_id_and_cents_limit_fits_an_integer_column() -> None:
    for limit in (
        orders.MAX_ID,
        orders.MAX_TOTAL_CENTS,
        products.MAX_PRODUCT_ID,
        products.MAX_PRICE_CENTS,
        products.MAX_STOCK,
        payments.MAX_ORDER_ID,
        users.MAX_USER_ID,
    ):
        assert 0 < limit <= INTEGER_MAX
