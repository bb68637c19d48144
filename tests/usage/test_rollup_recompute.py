"""The database's recomputation of the day buckets (``usage.rollup_recompute``, what
``rebuild_rollups`` writes and ``rollups.drift`` compares with) against the Python path that
buckets each record as it is written, in zones with daylight saving time and half-hour offsets,
for records on either side of local midnight and of an offset change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.models import LedgerEntry
from billing.services import account_charge, account_credit, account_get_or_create
from usage import rollups
from usage.models import RollupGrain, UsageRecord, UsageRollup
from usage.rollup_recompute import recomputed, utc_offsets

pytestmark = pytest.mark.django_db
NEW_YORK_CHANGES_2026 = [datetime(2026, 3, 8, 7, tzinfo=UTC), datetime(2026, 11, 1, 6, tzinfo=UTC)]
EDGES = {
    # UTC instants one second before and at local midnight, around both 2026 changes in New York
    "America/New_York": [
        datetime(2026, 3, 8, 4, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 8, 5, tzinfo=UTC),
        datetime(2026, 3, 9, 3, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 9, 4, tzinfo=UTC),
        datetime(2026, 11, 2, 4, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 2, 5, tzinfo=UTC),
    ],
    "Asia/Kolkata": [datetime(2026, 3, 9, 18, 29, 59, tzinfo=UTC), datetime(2026, 3, 9, 18, 30, tzinfo=UTC)],
    "Asia/Shanghai": [datetime(2026, 3, 9, 15, 59, 59, tzinfo=UTC), datetime(2026, 3, 9, 16, tzinfo=UTC)],
}


def test_offsets_change_where_the_zone_changes_to_the_second() -> None:
    pieces = utc_offsets(
        ZoneInfo("America/New_York"), datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert [p[0] for p in pieces] == [None, *NEW_YORK_CHANGES_2026]
    assert [p[1] for p in pieces] == [timedelta(hours=-5), timedelta(hours=-4), timedelta(hours=-5)]
    kolkata = utc_offsets(
        ZoneInfo("Asia/Kolkata"), datetime(2020, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert kolkata == [(None, timedelta(hours=5, minutes=30))]


def _record(account, i: int, created: datetime, *, amount: str = "1.2345", **paid) -> UsageRecord:
    record = UsageRecord.objects.create(
        account=account,
        source="package",
        order_ref=f"P-{i % 2}",
        line_id=20_000 + i,
        period_key=f"k:{i}",
        period_start=created,
        period_end=created + timedelta(hours=1),
        unit_price=Decimal(amount),
        amount=Decimal(amount),
        discount=Decimal("0.0001") * i,
        kind="usage",
        status="arrears",
    )
    UsageRecord.objects.filter(pk=record.pk).update(created_at=created, **paid)
    return record


def _python_buckets(start: date | None = None, end: date | None = None) -> dict:
    """The reference: every record bucketed by the incremental path's own code."""
    sums: dict = {}
    rows = list(UsageRecord.objects.order_by("pk").values_list(*rollups.FIELDS))
    for bucket, amount, discount in rollups._contributions(rows).values():
        if (start is None or bucket[0] >= start) and (end is None or bucket[0] <= end):
            a, d, n = sums.get(bucket, (0, 0, 0))
            sums[bucket] = (a + amount, d + discount, n + 1)
    return sums


@pytest.mark.parametrize("zone", sorted(EDGES))
def test_the_database_buckets_records_as_the_python_path_does(settings, zone) -> None:
    settings.TALLY_TIME_ZONE = zone
    account = account_get_or_create(namespace="recompute")
    account_credit(account_id=account.pk, amount=Decimal("100"), idempotency_key="seed")
    edges = EDGES[zone]
    for i, at in enumerate(edges):
        _record(account, i, at)
    # paid: by a ledger entry (its time decides), or with only paid_at
    charge = account_charge(account_id=account.pk, amount=Decimal("2"), idempotency_key="pay")
    LedgerEntry.objects.filter(pk=charge.entry.pk).update(created_at=edges[1])
    _record(account, 90, edges[-1], status="paid", ledger_entry=charge.entry, paid_at=edges[-1])
    _record(account, 91, edges[1], amount="-3.5", status="paid", paid_at=edges[0])
    _record(account, 92, edges[0] - timedelta(days=40), status="canceled")

    expected = _python_buckets()
    assert len({bucket[0] for bucket in expected}) >= 3  # the edges fall on different local days
    assert recomputed() == expected
    assert rollups.drift() == {}
    day = sorted(bucket[0] for bucket in expected)[1]
    assert recomputed(start=day, end=day) == _python_buckets(day, day) != {}


def test_rebuild_writes_the_recomputed_days_and_months(settings) -> None:
    settings.TALLY_TIME_ZONE = "America/New_York"
    account = account_get_or_create(namespace="rebuild")
    for i, at in enumerate(EDGES["America/New_York"]):
        _record(account, i, at)
    written = rollups.day_rows()
    months = _month_records()
    UsageRollup.objects.all().delete()
    assert rollups.rebuild() == len(written) == 6  # six records, one bucket each (two orders on March 8)
    assert rollups.day_rows() == written == recomputed()
    assert _month_records() == months == {date(2026, 3, 1): 4, date(2026, 11, 1): 2}
    assert sorted({bucket[0] for bucket in written}) == [
        date(2026, 3, 7),
        date(2026, 3, 8),
        date(2026, 3, 9),
        date(2026, 11, 1),
        date(2026, 11, 2),
    ]


def _month_records() -> dict[date, int]:
    out: dict[date, int] = {}
    for day, n in UsageRollup.objects.filter(grain=RollupGrain.MONTH).values_list("day", "records"):
        out[day] = out.get(day, 0) + n
    return {day: n for day, n in out.items() if n}  # a record moved away leaves a row of 0
