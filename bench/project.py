"""Adapters from the benchmarks to the project's code paths.

Features land at different times; each adapter looks the project's function up and returns
``None`` when it is not there yet, so the benchmark prints the baseline and says what is missing
instead of crashing. When a service's signature changes, this is the one file to update.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
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


def report_adapter() -> tuple[str, Callable[[str, list[int]], dict[str, dict[tuple[str, ...], Any]]]] | None:
    """``run(month, account_ids) -> {"account": rows, "order": rows}`` through
    ``usage.selectors.usage_report`` (what ``GET /usageapi/v1/reports`` and ``manage.py
    usage_report`` call), both groupings; rows: key -> (money, records, arrears, arrears records,
    gross, discount, corrections, correction records); the last four None before issue 20."""
    found = _lookup("usage.selectors", "usage_report")
    if found is None:
        return None
    label, fn = found
    from datetime import date

    from usage.selectors import month_range

    keys = {"account": ("namespace",), "order": ("namespace", "order_id", "region", "plan_id")}

    def run(month: str, account_ids: list[int]) -> dict[str, dict[tuple[str, ...], Any]]:
        y, m = (int(x) for x in month.split("-"))
        start, end = month_range(date(y, m, 1))
        out: dict[str, dict[tuple[str, ...], Any]] = {}
        for by, names in keys.items():
            report = fn(start=start, end=end, group_by=by, account_ids=account_ids)
            out[by] = {
                tuple(r[k] or "" for k in names): (
                    r["amount"],
                    r["records"],
                    r["arrears"],
                    r["arrears_records"],
                    r.get("gross"),
                    r.get("discount"),
                    r.get("corrections"),
                    r.get("correction_records"),
                )
                for r in _rows(report)
            }
        return out

    return label, run


def _rows(report: Any) -> list[Any]:
    if isinstance(report, dict):
        return list(report.get("rows") or report.get("results") or [])
    rows = getattr(report, "rows", report)
    return list(rows)


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
