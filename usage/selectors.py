"""Reads of the consumption history: lists, reports and the daily series of the chart.

Reports are aggregated in the database (``SUM``/``COUNT`` with ``GROUP BY``); the API
(``GET /usageapi/v1/reports``) and ``manage.py usage_report`` call the same functions, so the two
can never disagree. A record belongs to the period containing its ``period_start``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DateTimeField, ExpressionWrapper, F, QuerySet, Sum, Value
from django.db.models.functions import TruncDay
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from config.clock import local_tz, month_start_utc, next_month
from config.money import ZERO, money2, to_money
from usage.models import UsageRecord

GROUP_BY = ("order", "account")


def usage_records(
    *,
    account_ids: Iterable[int] | None,
    order_refs: Iterable[str] | None = None,
    region: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[UsageRecord]:
    """Records newest first; ``account_ids=None`` means every account (staff)."""
    qs = UsageRecord.objects.select_related("account", "plan")
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    if order_refs is not None:
        qs = qs.filter(order_ref__in=list(order_refs))
    if region:
        qs = qs.filter(region=region)
    if start is not None:
        qs = qs.filter(period_start__gte=start)
    if end is not None:
        qs = qs.filter(period_start__lt=end)
    return qs.order_by("-created_at", "-id")


def month_range(month: date) -> tuple[datetime, datetime]:
    """A calendar month in ``TALLY_TIME_ZONE`` as a UTC ``[start, end)``."""
    return month_start_utc(month), month_start_utc(next_month(month))


@dataclass
class Report:
    start: datetime
    end: datetime
    group_by: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: Decimal = ZERO
    records: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start,
            "to": self.end,
            "group_by": self.group_by,
            "rows": self.rows,
            "total": self.total,
            "records": self.records,
        }


def usage_report(
    *, start: datetime, end: datetime, group_by: str = "order", account_ids: Iterable[int] | None = None
) -> Report:
    """Consumption per order (or per account) in ``[start, end)``, with totals."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}")
    qs = UsageRecord.objects.filter(period_start__gte=start, period_start__lt=end)
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    if group_by == "order":
        keys = ["account__namespace", "order_ref", "region", "plan__plan_id"]
    else:
        keys = ["account__namespace"]
    grouped = qs.values(*keys).annotate(amount=Sum("amount"), records=Count("id")).order_by(*keys)
    rows = []
    for row in grouped:
        out: dict[str, Any] = {"namespace": row["account__namespace"]}
        if group_by == "order":
            out.update(order_id=row["order_ref"], region=row["region"], plan_id=row["plan__plan_id"] or "")
        out.update(amount=to_money(row["amount"] or 0), records=row["records"])
        rows.append(out)
    totals = qs.aggregate(amount=Sum("amount"), records=Count("id"))
    return Report(
        start=start,
        end=end,
        group_by=group_by,
        rows=rows,
        total=to_money(totals["amount"] or 0),
        records=totals["records"] or 0,
    )


def daily_series(
    *, start: datetime, end: datetime, by: str = "order", account_ids: Iterable[int] | None = None
) -> list[tuple[date, str, Decimal]]:
    """``(local day, plan id or namespace, amount)`` per day in ``[start, end)``, summed in the DB.

    The day is the local day of ``TALLY_TIME_ZONE``; the shift is applied as a fixed offset (taken
    at ``start``) so the database needs no time-zone tables (MariaDB often has none).
    """
    offset = local_tz().utcoffset(start.replace(tzinfo=None)) or timedelta(0)
    qs = UsageRecord.objects.filter(period_start__gte=start, period_start__lt=end)
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    key = "plan__plan_id" if by == "order" else "account__namespace"
    shifted = ExpressionWrapper(F("period_start") + Value(offset), output_field=DateTimeField())
    grouped = (
        qs.annotate(day=TruncDay(shifted, tzinfo=UTC))
        .values("day", key)
        .annotate(amount=Sum("amount"))
        .order_by("day", key)
    )
    out = []
    for row in grouped:
        day = row["day"]
        out.append(
            (day.date() if isinstance(day, datetime) else day, row[key] or "", to_money(row["amount"] or 0))
        )
    return out


# --- parameters shared by the API and the report command ------------------------------------


def parse_time(raw: str | None, name: str, errors: dict[str, list[str]]) -> datetime | None:
    """ISO 8601 date-time (naive = local time) or a date (local midnight)."""
    if raw in (None, ""):
        return None
    assert raw is not None
    try:
        dt = parse_datetime(raw)
    except ValueError:
        dt = None
    if dt is None:
        try:
            d = parse_date(raw)
        except ValueError:
            d = None
        if d is None:
            errors[name] = ["must be an ISO 8601 date or date-time"]
            return None
        dt = datetime(d.year, d.month, d.day, tzinfo=local_tz())
    if timezone.is_naive(dt):
        dt = dt.replace(tzinfo=local_tz())
    return dt


def report_range(
    period: str | None, start_raw: str | None, end_raw: str | None, errors: dict[str, list[str]]
) -> tuple[datetime | None, datetime | None]:
    """``period=YYYY-MM`` or ``from``/``to`` (both), shared by the API and ``usage_report``."""
    if period:
        if start_raw or end_raw:
            errors["period"] = ["give either period or from/to"]
            return None, None
        try:
            month = datetime.strptime(period, "%Y-%m").date()  # noqa: DTZ007 - a month, no time
        except ValueError:
            errors["period"] = ["must be YYYY-MM"]
            return None, None
        return month_range(date(month.year, month.month, 1))
    if not start_raw or not end_raw:
        errors["period"] = ["give period=YYYY-MM, or from and to"]
        return None, None
    start = parse_time(start_raw, "from", errors)
    end = parse_time(end_raw, "to", errors)
    if start and end and end <= start:
        errors["to"] = ["must be after from"]
    return start, end


def report_csv(report: Any) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    if report.group_by == "order":
        writer.writerow(["namespace", "order_id", "region", "plan_id", "money", "records"])
        for r in report.rows:
            writer.writerow(
                [r["namespace"], r["order_id"], r["region"], r["plan_id"], money2(r["amount"]), r["records"]]
            )
        writer.writerow(["TOTAL", "", "", "", money2(report.total), report.records])
    else:
        writer.writerow(["namespace", "money", "records"])
        for r in report.rows:
            writer.writerow([r["namespace"], money2(r["amount"]), r["records"]])
        writer.writerow(["TOTAL", money2(report.total), report.records])
    return buf.getvalue()
