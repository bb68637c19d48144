"""Shape validation of one document field at a time, each problem recorded under its JSON path
(``plans[2].prices[0].price``) so a whole document is checked before anything is reported."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,50}$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
ID_HINT = "use 1-50 letters, digits, _ or -"
MAX_INTEGER_DIGITS = 16


class FieldValidator:
    """Reads fields of a parsed JSON document; problems collect in ``errors`` by JSON path."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def err(self, path: str, msg: str) -> None:
        self.errors.setdefault(path, []).append(msg)

    def obj(self, value: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.err(path, "must be an object")
            return None
        return value

    def objects(self, items: list[Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """Each item of a list that is an object, with its path (``plans[2]``); others are reported."""
        for i, item in enumerate(items):
            d = self.obj(item, f"{path}[{i}]")
            if d is not None:
                yield f"{path}[{i}]", d

    def lst(self, d: dict[str, Any], key: str, path: str, *, required: bool = False) -> list[Any] | None:
        if key not in d or d[key] is None:
            if required:
                self.err(f"{path}{key}", "required (a list)")
            return None
        if not isinstance(d[key], list):
            self.err(f"{path}{key}", "must be a list")
            return None
        return list(d[key])

    def text(
        self,
        d: dict[str, Any],
        key: str,
        path: str,
        *,
        required: bool = True,
        max_len: int = 200,
        pattern: re.Pattern[str] | None = None,
        default: str = "",
        hint: str = "",
    ) -> str:
        value = d.get(key)
        if value is None or value == "":
            if required:
                self.err(f"{path}{key}", "required")
            return default
        if not isinstance(value, str):
            self.err(f"{path}{key}", "must be a string")
            return default
        if len(value) > max_len:
            self.err(f"{path}{key}", f"at most {max_len} characters")
        elif pattern is not None and not pattern.match(value):
            self.err(f"{path}{key}", hint or f"must match {pattern.pattern}")
        return value

    def choice(self, d: dict[str, Any], key: str, path: str, choices: list[str], *, required: bool) -> str:
        value = d.get(key)
        if value is None or value == "":
            if required:
                self.err(f"{path}{key}", f"required, one of {', '.join(choices)}")
            return ""
        if value not in choices:
            self.err(f"{path}{key}", f"must be one of {', '.join(choices)}")
            return ""
        return str(value)

    def money(self, d: dict[str, Any], key: str, path: str) -> Decimal:
        value = d.get(key)
        where = f"{path}{key}"
        if value is None:
            self.err(where, "required (a decimal string)")
            return Decimal(0)
        if isinstance(value, bool | float) or not isinstance(value, str | int | Decimal):
            self.err(where, 'must be a decimal string such as "10.00"')
            return Decimal(0)
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            self.err(where, f"not a decimal amount: {str(value)[:40]!r}")
            return Decimal(0)
        if not amount.is_finite():
            self.err(where, "must be a finite amount")
            return Decimal(0)
        if amount < 0:
            self.err(where, "must be >= 0")
        if abs(amount) >= Decimal(10) ** MAX_INTEGER_DIGITS:
            self.err(where, f"at most {MAX_INTEGER_DIGITS} digits before the decimal point")
            return Decimal(0)
        if amount != amount.quantize(Decimal("0.0001")):
            self.err(where, "at most 4 decimal places")
        return amount

    def time(self, d: dict[str, Any], key: str, path: str) -> datetime:
        value = d.get(key)
        where = f"{path}{key}"
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        if not isinstance(value, str) or not value:
            self.err(where, "required (ISO 8601 time with offset, e.g. 2026-01-01T00:00:00Z)")
            return epoch
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.err(where, f"not an ISO 8601 time: {value[:40]!r}")
            return epoch
        if parsed.tzinfo is None:
            self.err(where, "must carry a UTC offset (e.g. 'Z')")
            return epoch
        return parsed.astimezone(UTC)

    def attrs(self, d: dict[str, Any], key: str, path: str) -> dict[str, Any]:
        value = d.get(key, {})
        where = f"{path}{key}"
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.err(where, "must be an object of attribute values")
            return {}
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str) or not k or len(k) > 50:
                self.err(where, f"bad attribute name {str(k)[:60]!r}")
            elif isinstance(v, bool | int | str):
                out[k] = v
            elif isinstance(v, Decimal) and v.is_finite():
                out[k] = str(v)
            else:
                self.err(f"{where}.{k}", "must be a string, number or boolean")
        return out
