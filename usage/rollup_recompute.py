"""The day buckets of the usage rollups recomputed from the records by the database: ONE grouped
statement (``manage.py rebuild_rollups``, ``rollups.drift``), where the incremental path
(``usage.rollups``) computes each record's bucket in Python as it writes it.

A bucket's day is the local day of ``TALLY_TIME_ZONE`` of the record's moment (``usage.rollups``:
a paid record's ledger entry's ``created_at``, else its ``paid_at``, else its ``created_at``). The
database converts no time zone here (MariaDB's ``CONVERT_TZ`` needs the server's zone tables,
which a stock install does not load): the zone's UTC offsets over the records' span are read from
Python's ``zoneinfo`` and written into the statement as a ``CASE`` over the moment, one branch per
offset change (none for a zone without daylight saving time), so the day is ``DATE(moment +
offset)`` computed in SQL with the same zone data the Python path uses.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round, TruncDate

from config.clock import local_tz
from usage.models import UsageRecord, UsageStatus

Bucket = tuple[date, int, str, str, str, int, str, str]
Sums = tuple[int, int, int]  # amount units, discount units, records
UNITS = 10000
STEP = timedelta(hours=1)  # offsets change on the hour or half hour, never twice within an hour


def utc_offsets(zone: ZoneInfo, first: datetime, last: datetime) -> list[tuple[datetime | None, timedelta]]:
    """The UTC offsets of ``zone`` from ``first`` to ``last`` (aware): ``[(None, o0), (t1, o1),
    ...]``, ``o_k`` in force from the instant ``t_k`` (UTC), each change found to the second."""

    def offset(at: datetime) -> timedelta:
        return at.astimezone(zone).utcoffset() or timedelta(0)

    pieces: list[tuple[datetime | None, timedelta]] = [(None, offset(first))]
    at = first
    while at < last:
        step_end = min(at + STEP, last)
        if offset(step_end) != pieces[-1][1]:
            low, high = at, step_end  # offset(low) is the previous one, offset(high) the new one
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == pieces[-1][1] else (low, middle)
            pieces.append((high.replace(microsecond=0), offset(high)))
        at = step_end
    return pieces


def _moment() -> Case:
    paid = Q(status=UsageStatus.PAID)
    return Case(
        When(paid & Q(ledger_entry__isnull=False), then=F("ledger_entry__created_at")),
        When(paid & Q(paid_at__isnull=False), then=F("paid_at")),
        default=F("created_at"),
        output_field=DateTimeField(),
    )


def _local_day(pieces: list[tuple[datetime | None, timedelta]]) -> TruncDate:
    changes = [
        When(moment__lt=starts, then=Value(previous))
        for (_, previous), (starts, _) in zip(pieces, pieces[1:], strict=False)
    ]
    offset = Case(*changes, default=Value(pieces[-1][1]), output_field=DurationField())
    shifted = ExpressionWrapper(F("moment") + offset, output_field=DateTimeField())
    return TruncDate(shifted, tzinfo=UTC)  # the offset is added: the day of the shifted UTC value


def _units(field: str) -> Sum:
    return Sum(Round(F(field) * Value(Decimal(UNITS))), output_field=IntegerField())


def recomputed(*, start: date | None = None, end: date | None = None) -> dict[Bucket, Sums]:
    """The day buckets the records say (local days ``[start, end]``, or all), non-zero ones only."""
    records = UsageRecord.objects.annotate(moment=_moment())
    span = records.aggregate(first=Min("moment"), last=Max("moment"))
    if span["first"] is None:
        return {}
    pieces = utc_offsets(local_tz(), span["first"], span["last"])
    rows = records.annotate(local_day=_local_day(pieces))
    if start is not None:
        rows = rows.filter(local_day__gte=start)
    if end is not None:
        rows = rows.filter(local_day__lte=end)
    grouped = (
        rows.annotate(region_key=Coalesce("region", Value("")), plan_key=Coalesce("plan_id", Value(0)))
        .values("local_day", "account_id", "source", "order_ref", "region_key", "plan_key", "kind", "status")
        .annotate(amount_units=_units("amount"), discount_units=_units("discount"), records=Count("pk"))
        .order_by()
    )
    out: dict[Bucket, Sums] = {}
    for row in grouped.values_list(
        "local_day",
        "account_id",
        "source",
        "order_ref",
        "region_key",
        "plan_key",
        "kind",
        "status",
        "amount_units",
        "discount_units",
        "records",
    ):
        day, account_id, source, order_ref, region, plan_key, kind, status, amount, discount, n = row
        sums = (int(amount or 0), int(discount or 0), int(n))
        if sums != (0, 0, 0):
            out[(day, account_id, source, order_ref, region, int(plan_key), kind, status)] = sums
    return out
