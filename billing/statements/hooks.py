"""What billing needs from the apps above it, registered by them (billing never imports upward).

A statement line of an order lists the usage records its ledger entries paid (instance, period,
quantity, unit price). Usage records live in ``usage`` and instances in ``orders``, both above
billing, so ``orders`` registers a provider in its ``AppConfig.ready`` (``orders/statement_lines.py``).
There is exactly one provider; issuing without one is a configuration error, never a silently
thinner statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ImproperlyConfigured

# provider(account_ids, start, end) -> rows; each row is a dict with the paying entry's
# ``account_id``, ``entry_kind``, ``subject_type``, ``subject_id`` and the detail fields
# (``order``, ``instance``, ``component``, ``usage_kind``, ``period_start``, ``period_end``,
# ``records``, ``quantity``, ``unit_price``, ``amount``), aggregated in the database.
LineDetailProvider = Callable[[Sequence[int], datetime, datetime], Iterable[dict[str, Any]]]

_provider: list[LineDetailProvider] = []


def register_line_details(provider: LineDetailProvider) -> None:
    """Called once by the app that owns usage records' context (idempotent for the same function)."""
    if _provider and _provider[0] is not provider:
        raise ImproperlyConfigured("a statement line-detail provider is already registered")
    _provider[:] = [provider]


def line_details(account_ids: Sequence[int], start: datetime, end: datetime) -> Iterable[dict[str, Any]]:
    if not _provider:
        raise ImproperlyConfigured(
            "no statement line-detail provider is registered (orders.apps.OrdersConfig.ready does it)"
        )
    return _provider[0](account_ids, start, end)
