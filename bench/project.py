"""Adapters from the benchmarks to the project's code paths.

Features land at different times; each adapter looks the project's function up and returns
``None`` when it is not there yet, so the benchmark prints the baseline and says what is missing
instead of crashing. When a service's signature changes, this is the one file to update.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any


def _lookup(module: str, *names: str) -> tuple[str, Callable[..., Any]] | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    for name in names:
        fn = getattr(mod, name, None)
        if callable(fn):
            return f"{module}.{name}", fn
    return None


# --- B3 ---------------------------------------------------------------------------------------


def report_adapter() -> tuple[str, Callable[[str], tuple[int, int, Decimal]]] | None:
    """``run(month) -> (account groups, order groups, total)`` through ``usage.selectors.usage_report``
    (what ``GET /usageapi/v1/reports`` and ``manage.py usage_report`` call), both groupings."""
    found = _lookup("usage.selectors", "usage_report")
    if found is None:
        return None
    label, fn = found
    from datetime import date

    from usage.selectors import month_range

    def run(month: str) -> tuple[int, int, Decimal]:
        y, m = (int(x) for x in month.split("-"))
        start, end = month_range(date(y, m, 1))
        by_account = fn(start=start, end=end, group_by="account")
        by_order = fn(start=start, end=end, group_by="order")
        acc_rows = _rows(by_account)
        order_rows = _rows(by_order)
        total = sum((Decimal(str(_amount(r))) for r in acc_rows), Decimal(0))
        return len(acc_rows), len(order_rows), total

    return label, run


def _rows(report: Any) -> list[Any]:
    if isinstance(report, dict):
        return list(report.get("rows") or report.get("results") or [])
    rows = getattr(report, "rows", report)
    return list(rows)


def _amount(row: Any) -> Any:
    if isinstance(row, dict):
        for key in ("amount", "total", "money", "sum"):
            if key in row:
                return row[key]
    return getattr(row, "amount", getattr(row, "total", 0))


# --- B4 ---------------------------------------------------------------------------------------


def metering_adapter() -> tuple[str, Callable[[int, list[dict[str, Any]]], tuple[int, int, int]]] | None:
    """``ingest(account_id, events) -> (accepted, duplicates, rejected)`` through the metering service
    (what ``POST /api/v1/meter-events`` calls for one batch)."""
    found = _lookup("orders.package.metering", "meter_events_ingest")
    if found is None:
        return None
    label, fn = found

    def ingest(account_id: int, events: list[dict[str, Any]]) -> tuple[int, int, int]:
        res = fn(account_id=account_id, events=events)
        return int(res.accepted), int(res.duplicates), len(res.rejected)

    return label, ingest


# --- B1 ---------------------------------------------------------------------------------------


def renewal_adapter() -> tuple[str, Callable[..., Any]] | None:
    """``orders.purchase.renewal.renewal_run(at=..., chunk_size=...)`` (beat's ``orders.run_renewals``)."""
    return _lookup("orders.purchase.renewal", "renewal_run")


# --- B5 ---------------------------------------------------------------------------------------


def order_list_adapter() -> tuple[str, Callable[[Any, int, int], Any]] | None:
    """``page(user, offset, limit)`` through the vehicle-order list selector."""
    found = _lookup("orders.vehicle.selectors", "vehicle_order_list")
    if found is None:
        return None
    label, fn = found
    return label, lambda user, offset, limit: fn(user=user, offset=offset, limit=limit)
