"""Serializer fields for money: decimal strings, never floats, at most 4 places."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from config.money import money2


class MoneyField(serializers.DecimalField):
    """``"12.5000"``: 4 places in and out; more places in the input are an error."""

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("max_digits", 20)
        kwargs.setdefault("decimal_places", 4)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, float):
            raise serializers.ValidationError("must be a decimal string or number, not a float")
        return super().to_internal_value(data)


class Money2Field(serializers.Field):
    """``"12.50"``: the ``/usageapi/v1`` display of money (read-only)."""

    def __init__(self, **kwargs: Any):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return money2(value)
