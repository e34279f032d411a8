"""Money: the one conversion between stored cents and amounts in the shop's currency.

Every service stores money as an integer number of cents (exact, and what an
``INTEGER`` column holds) and shows it as an amount with two decimals (the JSON
APIs, spans, metrics and log lines). Converting in one place keeps one rounding
rule: an amount with a fraction of a cent is rounded half up to the cent. The HTTP
APIs accept at most two decimals, so that rule only decides for an amount read
from somewhere else (another service's JSON number).

Standard library only (an import rule keeps it so), so adapters and use cases may use
it; domains import nothing outside their own package, and keep cents.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENTS_PER_UNIT = 100
CENT = Decimal("0.01")


def cents_to_amount(cents: int) -> Decimal:
    """The exact amount ``cents`` stand for, with two decimals (``1250`` -> ``12.50``)."""
    return (Decimal(cents) / CENTS_PER_UNIT).quantize(CENT)


def amount_to_cents(amount: Decimal | int | float | str) -> int:
    """Whole cents of an amount, a fraction of a cent rounded half up.

    A float is read by its shortest ``repr`` (``0.29`` is 29 cents, not the binary
    0.28999...), which is how a JSON number from another service is meant.
    Raises ``ArithmeticError`` or ``ValueError`` for what is not a finite amount.
    """
    if isinstance(amount, bool):
        raise ValueError("an amount is a number, not a boolean")
    exact = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    if not exact.is_finite():
        raise ValueError(f"an amount must be finite, not {exact}")
    return int((exact * CENTS_PER_UNIT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cents_to_number(cents: int) -> float:
    """The amount as a plain number, for span attributes, metrics and log fields.

    ``cents / 100`` is the float nearest the exact amount (an exact division, rounded
    once), so it equals ``float(cents_to_amount(cents))`` without building a Decimal
    on the request path.
    """
    return cents / CENTS_PER_UNIT
