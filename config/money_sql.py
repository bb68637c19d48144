"""Exact sums of money columns in SQL, the same on SQLite and MariaDB.

MariaDB sums ``DECIMAL(20,4)`` columns exactly. SQLite stores a ``DecimalField`` with NUMERIC
affinity, i.e. as a REAL, and ``SUM`` adds those in floating point: ``3.54`` came back as
``3.53999999999999`` (issue 15). ``ExactMoneySum`` therefore sums integer ten-thousandths on SQLite
(``SUM(CAST(ROUND(x * 10000) AS INTEGER))``, exact in SQLite's 64-bit integers: every value a
4-place column holds survives the round trip through a double, since Django writes at most 15
significant digits there) and turns the integer back into a 4-place ``Decimal`` in Python.

Use it for every aggregate of money (amounts, balances, quantities with 4 places)::

    qs.aggregate(total=ExactMoneySum("amount"))["total"]  # Decimal('3.5400') or None
    money_sum(qs)                                         # Decimal('3.5400'), 0.0000 when empty

Limits (the price of the integer form on SQLite): combine two sums in Python, not in SQL
(``ExactMoneySum(a) - ExactMoneySum(b)`` would mix scales there), and filter on a sum in Python
(``HAVING total > 5`` compares ten-thousandths on SQLite). Ordering by a sum is fine.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import models
from django.db.models import QuerySet, Sum

from config.money import DECIMAL_PLACES, MAX_DIGITS, MONEY_PLACES, ZERO

SCALE = 10**DECIMAL_PLACES


class ExactMoneyField(models.DecimalField):
    """The output field of ``ExactMoneySum``: converts the database's sum to a 4-place ``Decimal``.

    Its internal type is not ``DecimalField`` so that SQLite's float converter (15 significant
    digits) never sees the integer sum; ``from_db_value`` is the only conversion."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_digits", MAX_DIGITS + 10)
        kwargs.setdefault("decimal_places", DECIMAL_PLACES)
        super().__init__(*args, **kwargs)

    def get_internal_type(self) -> str:
        return "ExactMoneyField"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        if value is None:
            return None
        if connection.vendor == "sqlite":
            # ten-thousandths (an int, or "0" from a ``default``)
            return Decimal(int(value)).scaleb(-DECIMAL_PLACES).quantize(MONEY_PLACES)
        return Decimal(str(value)).quantize(MONEY_PLACES)


class ExactMoneySum(Sum):
    """``Sum`` of a 4-place money expression, exact on every backend (see the module docstring)."""

    name = "ExactMoneySum"

    def __init__(self, *expressions: Any, **extra: Any) -> None:
        if extra.get("default") is not None:
            # Coalesce(sum, default) would read the default as ten-thousandths on SQLite.
            raise TypeError("ExactMoneySum takes no default: use money_sum() or `or ZERO`")
        extra["output_field"] = ExactMoneyField()
        super().__init__(*expressions, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        clone = self.copy()
        clone.template = f"%(function)s(%(distinct)sCAST(ROUND((%(expressions)s) * {SCALE}) AS INTEGER))"
        return super(ExactMoneySum, clone).as_sql(compiler, connection, **extra_context)


def money_sum(qs: QuerySet[Any], field: str = "amount") -> Decimal:
    """The exact sum of ``field`` over ``qs`` (``0.0000`` for no rows)."""
    total = qs.aggregate(_exact_total=ExactMoneySum(field))["_exact_total"]
    return ZERO if total is None else total
