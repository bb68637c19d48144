"""R7: beat sending the same periodic task twice, across DST changes of ``TALLY_TIME_ZONE``.

The clock is simulated (``django.utils.timezone.now`` patched), ``TALLY_TIME_ZONE`` is
America/New_York (DST starts 2027-03-14 02:00 -> 03:00, ends 2027-11-07 02:00 -> 01:00), and every
beat tick sends each task TWICE through Celery (eagerly, as the worker would run it), the way a beat
restarted mid-tick or two beats by mistake would. Must show: no period charged twice, no period
skipped (each line's periods form one unbroken chain in UTC), and balance == ledger sum.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from billing.models import Account, LedgerEntry, MonthlyQuota
from billing.services import account_credit, account_get_or_create
from config.money_sql import money_sum
from plans.models import BillingMode, Cycle, MeteredService, Plan, PriceVersion
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")


def ny(y: int, m: int, d: int, h: int = 0, mi: int = 0, fold: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=NY, fold=fold).astimezone(UTC)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock(monkeypatch: Any, settings: Any) -> Clock:
    settings.TALLY_TIME_ZONE = "America/New_York"
    c = Clock(ny(2027, 1, 1))
    monkeypatch.setattr("django.utils.timezone.now", c)
    return c


def plan(plan_id: str, price: str, mode: str, cycle: str, plan_type: str) -> Plan:
    p, _ = Plan.objects.get_or_create(
        plan_id=plan_id,
        defaults={
            "name": plan_id,
            "plan_type": plan_type,
            "region": "us-east-1",
            "billing_mode": mode,
            "cycle": cycle,
        },
    )
    PriceVersion.objects.get_or_create(
        plan=p, effective_from=datetime(2025, 1, 1, tzinfo=UTC), defaults={"price": Decimal(price)}
    )
    return p


def funded(user: Any, amount: str) -> Account:
    account = account_get_or_create(namespace=user.get_username(), member=user)
    account_credit(account_id=account.pk, amount=Decimal(amount), idempotency_key="r7:fund", memo="r7")
    return account


def assert_balanced(account: Account) -> None:
    account.refresh_from_db()
    total = money_sum(LedgerEntry.objects.filter(account=account))
    assert account.balance == total


def ticks(start: datetime, end: datetime, step: timedelta) -> Iterator[datetime]:
    t = start
    while t <= end:
        yield t
        t += step


def send_twice(task: Any, **kwargs: Any) -> None:
    for _ in range(2):
        task.apply(kwargs=kwargs).get()


def assert_unbroken_chain(records: list[UsageRecord]) -> None:
    """Periods back to back in UTC: no gap (a skipped period), no overlap (a double charge)."""
    records = sorted(records, key=lambda r: r.period_start)
    starts = [r.period_start for r in records]
    assert len(starts) == len(set(starts)), "a period was billed twice"
    for prev, nxt in zip(records, records[1:], strict=False):
        assert prev.period_end == nxt.period_start, f"gap or overlap: {prev.period_end} -> {nxt.period_start}"


def test_r7_monthly_renewal_across_both_dst_changes_with_duplicate_beat_sends(clock, user):
    from orders.models import PurchaseOrder
    from orders.purchase.services import purchase_order_create
    from orders.purchase.tasks import run_renewals

    plan("r7-vol", "30", BillingMode.PREPAID, Cycle.MONTH, "volume")
    account = funded(user, "1000")
    # 02:30 local on Feb 14: the Mar 14 renewal falls in the hour that does not exist that night.
    clock.at = ny(2027, 2, 14, 2, 30)
    created = purchase_order_create(account=account, creator=user, region="us-east-1", plan_id="r7-vol")
    order = created.order
    assert order is not None
    end = ny(2027, 12, 20)
    dense = {ny(2027, 3, 14) + timedelta(minutes=15 * i) for i in range(20)}  # around the switches
    dense |= {ny(2027, 11, 7) + timedelta(minutes=15 * i) for i in range(24)}
    moments = sorted(set(ticks(clock.at, end, timedelta(hours=12))) | dense)
    for moment in moments:
        clock.at = moment
        send_twice(run_renewals, at=moment.isoformat())

    order = PurchaseOrder.objects.get(pk=order.pk)
    records = list(UsageRecord.objects.filter(order_ref=order.order_id))
    assert_unbroken_chain(records)
    # Renewed up to date: the deadline is past the last tick and at most one period + lead ahead.
    assert end < order.deadline <= end + timedelta(days=31 + 7)
    assert max(r.period_end for r in records) == order.deadline
    # Feb 14 2027 .. Jan 14 2028 (the last renewal, due Dec 7 with the 7-day lead, paid the period
    # Dec 14 -> Jan 14): every month once, the first period and 10 renewals.
    assert len(records) == 11
    # Every boundary is on the 14th local; DST moves the UTC hour, never the local day.
    assert {r.period_start.astimezone(NY).day for r in records} == {14}
    charges = LedgerEntry.objects.filter(account=account, kind="charge")
    assert charges.count() == len(records)
    assert -sum(e.amount for e in charges) == Decimal("30") * len(records)
    assert_balanced(account)


@pytest.mark.parametrize(
    ("label", "start", "end", "real_hours"),
    [
        ("spring forward", ny(2027, 3, 14, 0), ny(2027, 3, 14, 5), 4),  # 00:00-05:00 EST/EDT = 4 h
        ("fall back", ny(2027, 11, 7, 0), ny(2027, 11, 7, 4), 5),  # 00:00-04:00 EDT/EST = 5 h
    ],
)
def test_r7_hourly_billing_jobs_across_dst_with_duplicate_sends(clock, user, label, start, end, real_hours):
    from orders.purchase.services import purchase_order_create
    from orders.tasks import run_billing_jobs

    plan("r7-gpu", "1", BillingMode.HOURLY, Cycle.HOUR, "resources")
    account = funded(user, "1000")
    clock.at = start
    created = purchase_order_create(account=account, creator=user, region="us-east-1", plan_id="r7-gpu")
    assert created.order is not None
    for moment in ticks(start, end, timedelta(minutes=10)):
        clock.at = moment
        send_twice(run_billing_jobs)
    records = list(UsageRecord.objects.filter(order_ref=created.order.order_id))
    assert_unbroken_chain(records)
    # Hours are paid one ahead: the first at creation, then one per real hour that began.
    assert len(records) == real_hours + 1, [r.period_start.isoformat() for r in records]
    assert all(r.period_end - r.period_start == timedelta(hours=1) for r in records)
    assert LedgerEntry.objects.filter(account=account, kind="charge").count() == len(records)
    assert_balanced(account)


def test_r7_quota_month_opening_sent_twice_around_dst_and_month_edges(clock, user):
    from billing.quota import quota_deduct
    from billing.tasks import open_quota_month

    account = funded(user, "100")
    svc = MeteredService.objects.get(service="payment")
    for month in (date(2027, 3, 1), date(2027, 11, 1)):
        clock.at = ny(month.year, month.month, 1, 0, 0)
        send_twice(open_quota_month)  # the beat entry sends no argument: "this month"
        send_twice(open_quota_month, month=month.isoformat())
        assert MonthlyQuota.objects.filter(account=account, service=svc, month=month).count() == 1
    # A call one minute before local midnight of Mar 1 counts in February, one minute after in March.
    quota_deduct(
        account_id=account.pk, service="payment", count=1, request_id="r7-feb", at=ny(2027, 2, 28, 23, 59)
    )
    quota_deduct(
        account_id=account.pk, service="payment", count=1, request_id="r7-mar", at=ny(2027, 3, 1, 0, 1)
    )
    used = dict(MonthlyQuota.objects.filter(account=account, service=svc).values_list("month", "used"))
    assert used[date(2027, 2, 1)] == 1
    assert used[date(2027, 3, 1)] == 1
    assert_balanced(account)
