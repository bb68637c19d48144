"""Money is ``Decimal`` with 4 places, rounded half-up when a charge is computed."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

MONEY_PLACES = Decimal("0.0001")
CENT = Decimal("0.01")
ZERO = Decimal("0.0000")
MAX_DIGITS = 20
DECIMAL_PLACES = 4


def to_money(value: Decimal | int | str) -> Decimal:
    """Round a computed amount half-up to 4 places. Floats are refused, never converted."""
    if isinstance(value, float):
        raise TypeError("money must never be a float")
    try:
        return Decimal(value).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc


def floor_cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_DOWN).quantize(MONEY_PLACES)


def money2(value: Decimal) -> str:
    """The ``/usageapi/v1`` form: a string with 2 places (``"12.50"``)."""
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def money4(value: Decimal) -> str:
    return str(Decimal(value).quantize(MONEY_PLACES, rounding=ROUND_HALF_UP))
