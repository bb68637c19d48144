"""Reports read the usage rollups (issue 21 B3) and say exactly what the records say: for whole
months, whole days, ranges cut to the minute at either end and a piece of one day, per order, per
account and per day, the report equals the GROUP BY over the records row for row."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db.models import Count

from billing.services import account_credit, account_get_or_create
from config.clock import simulated_now
from config.money_sql import ExactMoneySum
from tests.orders.purchase.helpers import local, make_plan
from usage import rollup_reads
from usage.models import UsageRecord
from usage.selectors import (
    RECORD_KEYS,
    arrears_records,
    daily_series,
    moved_records,
    usage_report,
)
from usage.services import arrears_settle

pytestmark = pytest.mark.django_db


def raw(start: datetime, end: datetime, keys: tuple[str, ...]) -> tuple[dict, dict]:
    """The report's money and arrears per key, grouped over the records alone (the old path)."""
    columns = [RECORD_KEYS[k] for k in keys]

    def group(qs) -> dict:
        out: dict = {}
        for r in qs.values(*columns).annotate(a=ExactMoneySum("amount"), n=Count("id")).order_by():
            key = tuple(r[c] or "" for c in columns)
            had, n = out.get(key, (Decimal(0), 0))
            out[key] = (had + r["a"], n + r["n"])
        return out

    moved: dict = {}
    for qs in moved_records(start=start, end=end):
        for key, (a, n) in group(qs).items():
            had, had_n = moved.get(key, (Decimal(0), 0))
            moved[key] = (had + a, had_n + n)
    return moved, group(arrears_records(start=start, end=end))


@pytest.fixture
def history():
    """Two accounts, three orders, two plans; records billed over Feb 20 - Apr 12 at all hours,
    half of them paid later (some the next month), some paid without an entry."""
    plans = [make_plan("vol-50g", "30"), make_plan("cpu-1", "2", plan_type="cpu")]
    accounts = [account_get_or_create(namespace=n) for n in ("alice", "bob")]
    t, i = local(2026, 2, 20, 1), 0
    while t < local(2026, 4, 12):
        acc = accounts[i % 2]
        with simulated_now(t):
            UsageRecord.objects.create(
                account=acc,
                source="package",
                order_ref=f"P-{acc.namespace}-{i % 3}",
                line_id=i,
                period_key="p",
                region=("cn-north-1", "")[i % 2],
                plan=plans[i % 3 % 2] if i % 5 else None,
                period_start=t,
                period_end=t + timedelta(hours=1),
                unit_price=Decimal("1.0001") * (i % 7),
                amount=Decimal("1.0001") * (i % 7),
                kind=("usage", "hourly")[i % 2],
                status="paid" if i % 7 == 0 else "arrears",  # a zero amount: paid without an entry
                paid_at=t if i % 7 == 0 else None,
            )
        if i % 4 == 3:  # pay the account's arrears now, or 30 hours later
            pay_at = t + timedelta(hours=30 * (i % 8 == 7))
            with simulated_now(pay_at):
                account_credit(
                    account_id=acc.pk, amount=Decimal(9), idempotency_key=f"c{i}", subject=("t", "t")
                )
                arrears_settle(account_id=acc.pk, at=pay_at)
        t += timedelta(hours=7, minutes=13)
        i += 1
    assert UsageRecord.objects.filter(status="arrears").exists() and UsageRecord.objects.filter(status="paid")
    return accounts


RANGES = [
    (local(2026, 3, 1), local(2026, 4, 1)),  # a calendar month: the month rollups alone
    (local(2026, 2, 1), local(2026, 5, 1)),  # three months
    (local(2026, 2, 25), local(2026, 4, 3)),  # days, a month, days
    (local(2026, 3, 3, 5) + timedelta(minutes=7), local(2026, 3, 20, 17)),  # cut to the minute
    (local(2026, 3, 9, 2), local(2026, 3, 9, 21)),  # a piece of one day: the records alone
    (local(2026, 3, 31, 12), local(2026, 4, 1, 3)),  # two pieces, no whole day
]


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_the_report_equals_the_records_row_for_row(history, start, end):
    for group_by, keys in (
        ("order", ("namespace", "order_ref", "region", "plan")),
        ("account", ("namespace",)),
    ):
        report = usage_report(start=start, end=end, group_by=group_by)
        moved, owed = raw(start, end, keys)
        assert report.rows, (start, end)
        names = ("namespace", "order_id", "region", "plan_id") if group_by == "order" else ("namespace",)
        got = {
            tuple(r[k] for k in names): (r["amount"], r["records"], r["arrears"], r["arrears_records"])
            for r in report.rows
        }
        want = {
            key: (*moved.get(key, (Decimal(0), 0)), *owed.get(key, (Decimal(0), 0)))
            for key in set(moved) | set(owed)
        }
        assert got == want
        assert report.total == sum((a for a, _ in moved.values()), Decimal(0))


@pytest.mark.parametrize(("start", "end"), RANGES)
def test_the_daily_series_equals_the_records(history, start, end):
    series = daily_series(start=start, end=end, by="account")
    want: dict = {}
    day = start
    while day < end:  # the records of each local day piece by piece
        stop = min(
            rollup_reads.midnight(day.astimezone(rollup_reads.local_tz()).date() + timedelta(days=1)), end
        )
        for (ns,), (amount, _) in raw(day, stop, ("namespace",))[0].items():
            want[(day.astimezone(rollup_reads.local_tz()).date(), ns)] = amount
        day = stop
    assert {(d, k): a for d, k, a in series} == want


def test_a_month_report_reads_rollups_not_records(history, django_assert_max_num_queries):
    with django_assert_max_num_queries(3):  # the rollups, the names of the accounts and the plans
        usage_report(start=local(2026, 3, 1), end=local(2026, 4, 1))
    parts = rollup_reads.split(local(2026, 3, 1), local(2026, 4, 1))
    assert (parts.raw, parts.days) == ([], []) and len(parts.months) == 1


def test_many_accounts_are_kept_in_python_with_the_same_rows(history):
    """Over ``SQL_ACCOUNTS`` accounts the rollups are read by day range and filtered here."""
    start, end = local(2026, 3, 1), local(2026, 4, 1)
    alice = history[0]
    many = [alice.pk, *range(10**6, 10**6 + rollup_reads.SQL_ACCOUNTS)]
    for group_by in ("order", "account"):
        one = usage_report(start=start, end=end, group_by=group_by, account_ids=[alice.pk])
        assert usage_report(start=start, end=end, group_by=group_by, account_ids=many).rows == one.rows
        assert one.rows and {r["namespace"] for r in one.rows} == {"alice"}
