"""The limits each domain owns: what its columns can hold, whatever the HTTP layer lets by."""

from __future__ import annotations

import pytest

from minishop.orders.domain.model import (
    MAX_ID,
    MAX_QUANTITY,
    MAX_TOTAL_CENTS,
    InvalidOrder,
    OrderRequest,
    RequestedLine,
    price_lines,
)
from minishop.payments.domain.model import InvalidPayment, card_last4
from minishop.platform.idempotency import fingerprint
from minishop.products.domain.model import MAX_PRICE_CENTS, MAX_STOCK, InvalidProduct, NewProduct


@pytest.mark.parametrize(
    "items",
    [[(MAX_ID + 1, 1)], [(1, MAX_QUANTITY), (1, 1)]],
    ids=["product id beyond the column", "one product's units over the limit across lines"],
)
def test_an_order_request_stays_within_its_columns(items: list[tuple[int, int]]) -> None:
    with pytest.raises(InvalidOrder):
        OrderRequest.create(1, [RequestedLine(pid, quantity) for pid, quantity in items])


def test_an_order_request_refuses_a_user_id_beyond_the_column() -> None:
    with pytest.raises(InvalidOrder):
        OrderRequest.create(MAX_ID + 1, [RequestedLine(1, 1)])


def test_an_order_total_beyond_the_cents_column_is_refused() -> None:
    request = OrderRequest.create(1, [RequestedLine(1, 10), RequestedLine(2, 10)])
    unit = MAX_TOTAL_CENTS // 20 + 1
    with pytest.raises(InvalidOrder, match="total"):
        price_lines(request, {1: unit, 2: unit})
    assert price_lines(request, {1: unit - 1, 2: unit - 1})  # just inside: priced


@pytest.mark.parametrize(
    ("price_cents", "stock"), [(MAX_PRICE_CENTS + 1, 1), (1, MAX_STOCK + 1), (0, 1), (1, -1)]
)
def test_a_product_stays_within_its_columns(price_cents: int, stock: int) -> None:
    with pytest.raises(InvalidProduct):
        NewProduct.create("SKU", "Name", price_cents, stock)


@pytest.mark.parametrize(
    "card", ["\u0664" * 16, "\u00b2" * 16, "\uff14" * 16, "4242 4242 4242 424\u0662"]
)
def test_a_card_number_is_ascii_digits(card: str) -> None:
    assert card.replace(" ", "").isdigit()  # what the old check accepted
    with pytest.raises(InvalidPayment):
        card_last4(card)


def test_a_card_number_keeps_spaces_and_hyphens_as_separators() -> None:
    assert card_last4("4242 4242-4242 4242") == "4242"


def test_the_fingerprint_compares_json_by_meaning_and_anything_else_by_bytes() -> None:
    same = fingerprint("POST", "/x", b'{"a": 1, "b": [1, {"c": 2, "d": 3}]}')
    assert fingerprint("POST", "/x", b'{"b":[1,{"d":3,"c":2}],"a":1}') == same
    assert fingerprint("POST", "/x", b'{"a": 1, "b": [{"c": 2, "d": 3}, 1]}') != same  # order
    assert fingerprint("POST", "/y", b'{"a": 1, "b": [1, {"c": 2, "d": 3}]}') != same
    assert fingerprint("POST", "/x", b"a=1&b=2") != fingerprint("POST", "/x", b"b=2&a=1")
    assert fingerprint("POST", "/x", b'{"a": 1') != fingerprint("POST", "/x", b'{"a":1')
