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
    """``run(month) -> (account groups, order groups, total)`` through the usage report selector."""
    found = _lookup("usage.selectors", "usage_report", "report_rows", "report", "consumption_report")
    if found is None:
        return None
    label, fn = found

    def run(month: str) -> tuple[int, int, Decimal]:
        by_account = fn(period=month, group_by="account")
        by_order = fn(period=month, group_by="order")
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
