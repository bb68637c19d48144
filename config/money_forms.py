"""A money field for Django forms (the admin's balance adjustment) with the API's rule
(``config.api.fields.parse_money``): ASCII digits, at most 16 before and 4 after the point. Django's
``forms.DecimalField`` also takes exponents (``1E+3`` credited 1,000.00) and any script's digits
(``١٢`` credited 12.00): a typo must not move money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from config.api.fields import parse_money


class PlainMoneyField(forms.CharField):
    def __init__(self, *, allow_negative: bool = False, **kwargs: Any) -> None:
        self.allow_negative = allow_negative
        # no max_length: its validator runs on the Decimal; parse_money bounds the text already
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "decimal", "size": 22}))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        text = super().to_python(value)
        if text in self.empty_values:
            return None
        try:
            return parse_money(text, allow_negative=self.allow_negative)
        except ValueError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from exc
