"""Input and output fields for money and counts: canonical decimals, never floats (issue 14.2).

Money comes in as a JSON string or number whose text matches ``MONEY_PATTERN`` (ASCII digits, at
most 16 before and 4 after the point, a leading ``-`` only where a field allows it): booleans,
floats, ``NaN``/``Infinity``, exponents (``1e1``), full-width digits (``"１０"``), ``"1_0"``,
surrounding spaces, arrays and objects are refused with the field's name. Counts are plain JSON
integers. ``parse_money`` / ``parse_count`` are the one implementation, used by the serializer
fields and by services that read raw request data.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.money import MONEY_PLACES, money2

MONEY_PATTERN = r"^-?\d{1,16}(\.\d{1,4})?$"
UNSIGNED_MONEY_PATTERN = r"^\d{1,16}(\.\d{1,4})?$"
_MONEY_RE = re.compile(r"-?[0-9]{1,16}(\.[0-9]{1,4})?", re.ASCII)

MONEY_REASON = "must be a decimal string or number with at most 16 digits before and 4 after the point"
COUNT_REASON = "must be a plain integer"


def parse_money(value: Any, *, allow_negative: bool = False) -> Decimal:
    """The canonical ``Decimal`` (4 places) of ``value``, or ``ValueError(reason)``."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(MONEY_REASON)
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):  # a JSON number with a fraction or exponent (our parser)
        if not value.is_finite():
            raise ValueError(MONEY_REASON)
        # The JSON text where our parser kept it (``1.5e0``), else the value's own (``1E+1``).
        text = getattr(value, "text", None) or str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise ValueError(MONEY_REASON)
    if _MONEY_RE.fullmatch(text) is None:
        raise ValueError(MONEY_REASON)
    if text.startswith("-") and not allow_negative:
        raise ValueError("must be >= 0")
    try:
        return Decimal(text).quantize(MONEY_PLACES)
    except InvalidOperation as exc:  # cannot happen for a matching text; kept for safety
        raise ValueError(MONEY_REASON) from exc


def parse_count(value: Any, *, min_value: int | None = None, max_value: int | None = None) -> int:
    """A plain JSON integer (no bool, float, decimal, string), within bounds, or ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(COUNT_REASON)
    if min_value is not None and value < min_value:
        raise ValueError(f"must be >= {min_value}")
    if max_value is not None and value > max_value:
        raise ValueError(f"must be <= {max_value}")
    return value


@extend_schema_field(
    {
        "type": "string",
        "pattern": UNSIGNED_MONEY_PATTERN,
        "example": "12.5000",
        "description": "decimal string (a JSON number of the same form is accepted on input)",
    }
)
class MoneyField(serializers.DecimalField):
    """``"12.5000"``: 4 places in and out; input as ``parse_money`` says (no sign unless
    ``allow_negative``)."""

    def __init__(self, *, allow_negative: bool = False, **kwargs: Any):
        kwargs.setdefault("max_digits", 20)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("coerce_to_string", True)
        self.allow_negative = allow_negative
        super().__init__(**kwargs)
        if allow_negative:  # the schema shows the signed pattern for this field only
            self._spectacular_annotation = {
                **getattr(type(self), "_spectacular_annotation", {}),
                "field": {
                    "type": "string",
                    "pattern": MONEY_PATTERN,
                    "example": "-12.5000",
                    "description": "signed decimal string (a JSON number of the same form is accepted)",
                },
            }

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            value = parse_money(data, allow_negative=self.allow_negative)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        self.validate_precision(value)
        return value


@extend_schema_field({"type": "integer", "description": "a plain JSON integer"})
class CountField(serializers.IntegerField):
    """A plain JSON integer; ``"10"``, ``10.0``, ``true`` and ``"１０"`` are refused."""

    def to_internal_value(self, data: Any) -> int:
        try:
            return parse_count(data)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class Money2Field(serializers.Field):
    """``"12.50"``: the ``/usageapi/v1`` display of money (read-only)."""

    def __init__(self, **kwargs: Any):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return money2(value)
