"""One conversion between stored cents and amounts, with one rounding rule."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from minishop.orders.domain.model import MAX_TOTAL_CENTS
from minishop.platform.money import amount_to_cents, cents_to_amount, cents_to_number

EDGES = [0, 1, 5, 10, 29, 99, 100, 101, 1250, 2899, 10**9, MAX_TOTAL_CENTS]
SAMPLE = [*EDGES, *random.Random(9).sample(range(MAX_TOTAL_CENTS), 2000)]


def test_cents_are_shown_with_two_decimals() -> None:
    assert str(cents_to_amount(1250)) == "12.50"
    assert str(cents_to_amount(0)) == "0.00"
    assert str(cents_to_amount(MAX_TOTAL_CENTS)) == "21474836.47"


@pytest.mark.parametrize(
    ("amount", "cents"),
    [
        (Decimal("12.50"), 1250),
        (Decimal("12.5"), 1250),
        (12.5, 1250),
        (0.29, 29),  # read by its repr, not as the binary 0.28999...
        (1.15, 115),
        ("19.99", 1999),
        (7, 700),
        (Decimal("0.005"), 1),  # half a cent: up
        (Decimal("0.0049"), 0),
        (Decimal("0.015"), 2),  # half up, not to even
        (1.005, 101),
    ],
)
def test_an_amount_becomes_whole_cents_rounded_half_up(
    amount: Decimal | float | int | str, cents: int
) -> None:
    assert amount_to_cents(amount) == cents


@pytest.mark.parametrize("amount", [Decimal("NaN"), float("inf"), "-Infinity", True, "12,50"])
def test_what_is_not_a_finite_amount_is_refused(amount: object) -> None:
    with pytest.raises((ValueError, ArithmeticError)):
        amount_to_cents(amount)  # type: ignore[arg-type]


def test_cents_survive_the_way_through_json_and_back() -> None:
    for cents in SAMPLE:
        amount = cents_to_amount(cents)
        assert amount_to_cents(amount) == cents
        assert amount_to_cents(float(amount)) == cents  # as another service's JSON number


def test_the_number_on_spans_and_metrics_is_the_exact_amount_as_a_float() -> None:
    for cents in SAMPLE:
        assert cents_to_number(cents) == float(cents_to_amount(cents)) == cents / 100
        assert isinstance(cents_to_number(cents), float)
