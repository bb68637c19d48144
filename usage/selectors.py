"""Reads of the consumption history: lists, reports and the daily series of the chart.

Reports count only money that moved (issue 15): ``paid`` records, refunds and credits included
(their amounts are negative), each in the period in which its money moved, i.e. when the ledger
entry that paid it was booked (a record settled without an entry, a zero or net-zero sum, at its
``paid_at``). So a report's total for an account and a period is minus the sum of the account's
``charge`` and ``refund`` ledger entries booked in that period for usage records. ``unpaid``
(a package order not charged yet) and ``canceled`` records are left out; ``arrears`` (billed, not
paid) are shown beside the money, in the period in which they were billed, never in the total.
Beside the (net) money a row has its gross, discount and corrections (issue 20, ``usage.figures``).

Everything is aggregated in the database with ``config.money_sql.ExactMoneySum`` (exact on SQLite
too); the API (``GET /usageapi/v1/reports``), ``manage.py usage_report`` and the admin report call
the same functions, so they can never disagree. Periods are ``[start, end)`` in UTC; calendar
months and days are those of ``TALLY_TIME_ZONE``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from config.clock import local, local_tz, month_start_utc, next_month
from config.money import ZERO, money2
from config.money_sql import ExactMoneySum
from usage import rollup_reads
from usage.figures import Figures, Groups, add_to
from usage.models import UsageKind, UsageRecord, UsageStatus
from usage.rollup_reads import split

GROUP_BY = ("order", "account")
KEYS = {"order": ("namespace", "order_ref", "region", "plan"), "account": ("namespace",)}
# the same names as record columns (the raw pieces of a range)
RECORD_KEYS = {
    "namespace": "account__namespace",
    "order_ref": "order_ref",
    "region": "region",
    "plan": "plan__plan_id",
}


def usage_records(
    *,
    account_ids: Iterable[int] | None,
    order_refs: Iterable[str] | None = None,
    region: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[UsageRecord]:
    """Records newest first (by ``created_at``, the ``time`` of the API); ``account_ids=None`` means
    every account (staff); ``start``/``end`` bound that time, ``[start, end)``. A lazy queryset: the
    caller pages it in the database (LIMIT/OFFSET), on the (account, created_at) index."""
    qs = UsageRecord.objects.select_related("account", "plan")
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    if order_refs is not None:
        qs = qs.filter(order_ref__in=list(order_refs))
    if region:
        qs = qs.filter(region=region)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    return qs.order_by("-created_at", "-id")


def month_range(month: date) -> tuple[datetime, datetime]:
    """A calendar month in ``TALLY_TIME_ZONE`` as a UTC ``[start, end)``."""
    return month_start_utc(month), month_start_utc(next_month(month))


def local_days(start: datetime, end: datetime) -> tuple[date, date]:
    """The first and the last local calendar day of ``[start, end)`` (December, not
    "2026-11-30 - 2026-12-31")."""
    return local(start).date(), local(end - timedelta(microseconds=1)).date()


def range_label(start: datetime, end: datetime) -> str:
    first, last = local_days(start, end)
    return f"{first:%Y-%m-%d} - {last:%Y-%m-%d} ({local_tz().key})"


# --- which records count --------------------------------------------------------------------------


def _scope(qs: QuerySet[UsageRecord], account_ids: Iterable[int] | None) -> QuerySet[UsageRecord]:
    return qs if account_ids is None else qs.filter(account_id__in=list(account_ids))


def moved_records(
    *, start: datetime, end: datetime, account_ids: Iterable[int] | None = None
) -> tuple[QuerySet[UsageRecord], QuerySet[UsageRecord]]:
    """The paid records whose money moved in ``[start, end)``: (those paid by a ledger entry booked
    then, those paid without an entry at a ``paid_at`` then). Two querysets, so each can use its
    index; together they partition the paid records of the range."""
    paid = _scope(UsageRecord.objects.filter(status=UsageStatus.PAID), account_ids)
    by_entry = paid.filter(ledger_entry__created_at__gte=start, ledger_entry__created_at__lt=end)
    without = paid.filter(ledger_entry__isnull=True, paid_at__gte=start, paid_at__lt=end)
    return by_entry, without


def arrears_records(
    *, start: datetime, end: datetime, account_ids: Iterable[int] | None = None
) -> QuerySet[UsageRecord]:
    """Records billed in ``[start, end)`` and still in ``arrears`` (owed, no money moved)."""
    qs = UsageRecord.objects.filter(status=UsageStatus.ARREARS, created_at__gte=start, created_at__lt=end)
    return _scope(qs, account_ids)


def _grouped(qs: QuerySet[UsageRecord], keys: tuple[str, ...]) -> Groups:
    """The records' figures per key (``usage.figures``), as the rollups give them (by kind too:
    a correction is a figure of its own)."""
    out: Groups = {}
    rows = (
        qs.values(*keys, "kind")
        .annotate(amount=ExactMoneySum("amount"), discount=ExactMoneySum("discount"), n=Count("id"))
        .order_by()
    )
    for row in rows:
        amount = row["amount"] or ZERO
        fixed = row["kind"] == UsageKind.CORRECTION
        figures = Figures(amount, row["discount"] or ZERO, row["n"])
        if fixed:
            figures.corrections, figures.correction_records = amount, row["n"]
        add_to(out, tuple(row[k] or "" for k in keys), figures)
    return out


# --- the report -----------------------------------------------------------------------------------


@dataclass
class Report:
    start: datetime
    end: datetime
    group_by: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: Decimal = ZERO  # money that moved, net: charges net of promotions, refunds and credits
    records: int = 0
    arrears: Decimal = ZERO  # billed and not paid (not in ``total``)
    arrears_records: int = 0
    # issue 20 (``usage.figures``): gross = total + discount; corrections are within total
    gross: Decimal = ZERO
    discount: Decimal = ZERO
    corrections: Decimal = ZERO
    correction_records: int = 0

    def as_dict(self) -> dict[str, Any]:
        first, last = local_days(self.start, self.end)
        return {
            "from": local(self.start),
            "to": local(self.end),
            "first_day": first,
            "last_day": last,
            "time_zone": local_tz().key,
            "group_by": self.group_by,
            "rows": self.rows,
            "total": self.total,
            "gross": self.gross,
            "discount": self.discount,
            "records": self.records,
            "corrections": self.corrections,
            "correction_records": self.correction_records,
            "arrears": self.arrears,
            "arrears_records": self.arrears_records,
        }


def grouped_money(
    *, start: datetime, end: datetime, keys: tuple[str, ...], account_ids: Iterable[int] | None = None
) -> tuple[Groups, Groups]:
    """(money moved, arrears billed) in ``[start, end)`` per key (names of
    ``usage.rollup_reads.COLUMNS``): key -> ``usage.figures.Figures``. Whole local days and months
    are read from the rollups, the pieces of a day at either end from the records (the same
    figures: net, discount, records, corrections)."""
    parts = split(start, end)
    moved, owed = rollup_reads.grouped(parts, keys, account_ids)
    record_keys = tuple(RECORD_KEYS[k] for k in keys)
    for piece_start, piece_end in parts.raw:
        by_entry, without = moved_records(start=piece_start, end=piece_end, account_ids=account_ids)
        arrears = arrears_records(start=piece_start, end=piece_end, account_ids=account_ids)
        for target, qs in ((moved, by_entry), (moved, without), (owed, arrears)):
            for key, figures in _grouped(qs, record_keys).items():
                add_to(target, key, figures)
    return moved, owed


NO_FIGURES = Figures()  # a group with no records on one side (read only)


def usage_report(
    *, start: datetime, end: datetime, group_by: str = "order", account_ids: Iterable[int] | None = None
) -> Report:
    """Money that moved in ``[start, end)`` per order (or per account), the arrears billed in it, and
    the totals. Rows are sorted by their keys; the totals are the exact sums of the rows. A row's
    ``amount`` is its net money (``money`` in the API); ``gross``, ``discount``, ``corrections``
    and ``correction_records`` as ``usage.figures`` says."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {GROUP_BY}")
    moved, owed = grouped_money(start=start, end=end, keys=KEYS[group_by], account_ids=account_ids)
    report = Report(start=start, end=end, group_by=group_by)
    for key in sorted(set(moved) | set(owed)):
        paid, unpaid = moved.get(key) or NO_FIGURES, owed.get(key) or NO_FIGURES
        row: dict[str, Any] = (
            {"namespace": key[0], "order_id": key[1], "region": key[2], "plan_id": key[3]}
            if group_by == "order"
            else {"namespace": key[0]}
        )
        row["amount"] = paid.money
        row["gross"] = paid.gross
        row["discount"] = paid.discount
        row["records"] = paid.records
        row["corrections"] = paid.corrections
        row["correction_records"] = paid.correction_records
        row["arrears"] = unpaid.money
        row["arrears_records"] = unpaid.records
        report.rows.append(row)
        report.total += paid.money
        report.gross += paid.gross
        report.discount += paid.discount
        report.records += paid.records
        report.corrections += paid.corrections
        report.correction_records += paid.correction_records
        report.arrears += unpaid.money
        report.arrears_records += unpaid.records
    return report


def daily_series(
    *, start: datetime, end: datetime, by: str = "order", account_ids: Iterable[int] | None = None
) -> list[tuple[date, str, Decimal]]:
    """``(local day, plan id or namespace, money moved)`` per day of ``[start, end)``, summed in the DB.

    A day is a calendar day of ``TALLY_TIME_ZONE``; whole days come from the day rollups, the
    pieces of a day at either end of the range from the records (each piece lies in one day)."""
    key = "plan" if by == "order" else "namespace"
    parts = split(start, end)
    totals = rollup_reads.daily(parts, key, account_ids)
    for piece_start, piece_end in parts.raw:
        day = local(piece_start).date()
        for qs in moved_records(start=piece_start, end=piece_end, account_ids=account_ids):
            for (k,), figures in _grouped(qs, (RECORD_KEYS[key],)).items():
                totals[(day, k)] = totals.get((day, k), ZERO) + figures.money
    return [(day, k, amount) for (day, k), amount in sorted(totals.items())]


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


def time_range(
    params: Any, errors: dict[str, list[str]], names: tuple[tuple[str, str], ...]
) -> tuple[datetime | None, datetime | None]:
    """An optional ``[start, end)`` given by any one of the name pairs (``starttime``/``endtime``,
    ``from``/``to``); a bound given twice with different values, or an end not after the start, is
    an error naming the field."""
    found: dict[str, tuple[str, datetime]] = {}
    for pair in names:
        for side, name in zip(("start", "end"), pair, strict=True):
            value = parse_time(params.get(name), name, errors)
            if value is None:
                continue
            if side in found and found[side][1] != value:
                errors[name] = [f"contradicts {found[side][0]}"]
            found.setdefault(side, (name, value))
    start = found.get("start", ("", None))[1]
    end = found.get("end", ("", None))[1]
    if start is not None and end is not None and end <= start:
        errors[found["end"][0]] = [f"must be after {found['start'][0]}"]
    return start, end


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


# --- CSV: data rows only --------------------------------------------------------------------------

# the columns of issue 15 first, those of issue 20 after them: a reader by position keeps working
FIGURES = [
    *("money", "records", "arrears", "arrears_records"),
    *("gross", "discount", "corrections", "correction_records"),
]
MONEY_FIGURES = ("money", "arrears", "gross", "discount", "corrections")
ORDER_COLUMNS = ["namespace", "order_id", "region", "plan_id", *FIGURES]
ACCOUNT_COLUMNS = ["namespace", *FIGURES]
TOTAL_COLUMNS = ["first_day", "last_day", "time_zone", "group_by", *FIGURES]


def money_row(row: dict[str, Any]) -> dict[str, Any]:
    """A report row with its money at 2 places and ``amount`` named ``money`` (the API, the CSV)."""
    values = {k: v for k, v in row.items() if k != "amount"}
    values["money"] = row["amount"]
    return {k: money2(v) if k in MONEY_FIGURES else v for k, v in values.items()}


def report_csv(report: Report) -> str:
    """The rows, a header and nothing else: no TOTAL row a spreadsheet would add into the sums (the
    totals are ``report_totals_csv``, a file, or response headers, of their own)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    columns = ORDER_COLUMNS if report.group_by == "order" else ACCOUNT_COLUMNS
    writer.writerow(columns)
    for r in report.rows:
        values = money_row(r)
        writer.writerow([values[c] for c in columns])
    return buf.getvalue()


def report_totals(report: Report) -> dict[str, Any]:
    first, last = local_days(report.start, report.end)
    return {
        "first_day": first.isoformat(),
        "last_day": last.isoformat(),
        "time_zone": local_tz().key,
        "group_by": report.group_by,
        "money": money2(report.total),
        "records": report.records,
        "arrears": money2(report.arrears),
        "arrears_records": report.arrears_records,
        "gross": money2(report.gross),
        "discount": money2(report.discount),
        "corrections": money2(report.corrections),
        "correction_records": report.correction_records,
    }


def report_totals_csv(report: Report) -> str:
    """One header and one line: the period (local calendar days) and the totals."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    totals = report_totals(report)
    writer.writerow(TOTAL_COLUMNS)
    writer.writerow([totals[c] for c in TOTAL_COLUMNS])
    return buf.getvalue()
