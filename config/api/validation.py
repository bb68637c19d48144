"""Helpers that turn field errors into the 3307 "invalid parameters" error (docs/api.md "Error codes")."""

from __future__ import annotations

from typing import Any, NoReturn

from rest_framework.exceptions import ValidationError


def raise_invalid(errors: dict[str, list[str]]) -> NoReturn:
    raise ValidationError(errors)


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Flatten DRF's nested error detail into ``{"a.b[0].c": [reasons]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # a list's item errors keyed by index (DRF >= 3.17 for serializers too)
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for k, v in flatten_errors(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if not item:
                    continue
                for k, v in flatten_errors(item, f"{prefix}[{index}]").items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def invalid_message(errors: dict[str, list[str]]) -> str:
    return "invalid parameters: " + "; ".join(
        f"{field}: {', '.join(reasons)}" for field, reasons in errors.items()
    )
