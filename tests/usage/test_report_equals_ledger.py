"""On random histories the report is the ledger (issue 15): for every account and every period,
the report's money equals minus the sum of the account's ``charge`` and ``refund`` ledger entries
booked in that period, and arrears, unpaid and canceled records never count.

A history is a random sequence of purchase-order and package-order operations (create, renew,
switch, cancel with or without refund, renewal runs, billing runs with metered traffic, package
charge/cancel/renew/change/stop, recharges followed by arrears settlement) spread over three
months, each run at its simulated moment (``config.clock.simulated_now``, as ``run_billing --at``).
The periods checked are the calendar months, every day, and a random ``[from, to)``.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing.models import LedgerEntry
from config.clock import simulated_now
from config.exceptions import DomainError
from config.money_sql import money_sum
from orders.billing_jobs import billing_jobs_run
from orders.models import ProductInstance, PurchaseOrder
from orders.package.instances import instance_change_config, instance_renew
from orders.package.lifecycle import instance_stop
from orders.package.metering import meter_events_ingest
from orders.package.services import package_order_cancel, package_order_charge
from orders.package.specs import ComponentChange
from orders.purchase.renewal import renewal_run
from orders.purchase.services import (
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_renew,
)
from orders.purchase.switch import purchase_order_modify
from plans.models import BillingMode, Cycle, Product
from tests.orders.package.factories import create_order, make_catalog
from tests.orders.purchase.helpers import account_of, fund, local, make_plan
from usage.models import UsageRecord, UsageStatus
from usage.selectors import month_range, usage_report
from usage.services import arrears_settle

pytestmark = pytest.mark.django_db
_n = itertools.count()
OPS = ["create", "renew", "modify", "cancel", "run", "bill", "traffic", "pkg", "charge", "pkg_cancel",
       "pkg_renew", "change", "stop", "fund", "pkg", "charge", "change", "traffic", "bill"]  # fmt: skip

MINUTES_APART = {"modify", "cancel", "charge", "pkg_cancel", "pkg_renew", "change", "stop", "traffic"}

HISTORY = st.lists(
    st.tuples(
        st.sampled_from(OPS), st.integers(min_value=0, max_value=5), st.integers(min_value=1, max_value=72)
    ),
    min_size=4,
    max_size=25,
)


def _catalog() -> None:
    if Product.objects.filter(prod_id="vm").exists():  # examples share the test's transaction
        return
    make_catalog()
    make_plan("vol-50g", "30.0004")
    make_plan("vol-100g", "50.5")
    make_plan("vol-10g", "1.01")
    make_plan("cpu-h", "0.3333", plan_type="cpu", region="", mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
    make_plan("net-d", "0.5", plan_type="net", region="", mode=BillingMode.POSTPAID, cycle=Cycle.DAY)


def _pick(items: list, i: int):
    return items[i % len(items)] if items else None


def _apply(op: str, pick: int, size: int, *, account, user, now: datetime, tag: str) -> None:
    orders = list(PurchaseOrder.objects.filter(account=account).order_by("pk"))
    order = _pick(orders, pick)
    instances = list(ProductInstance.objects.filter(order__account=account).order_by("pk"))
    instance = _pick(instances, pick)
    if op == "create":
        plan = ("vol-50g", "vol-100g", "cpu-h", "net-d", "vol-10g", "vol-50g")[pick]
        purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id=plan, at=now)
    elif op == "fund":
        fund(account, str(size))
        arrears_settle(account_id=account.pk, at=now)
    elif op == "run":
        renewal_run(at=now, chunk_size=3)
    elif op == "bill":
        billing_jobs_run(at=now, chunk_size=5)
    elif op == "traffic" and order is not None:
        event = {"event_id": f"{tag}-{next(_n)}", "instance": order.order_id, "quantity": str(size)}
        meter_events_ingest(account_id=account.pk, events=[{**event, "timestamp": now.isoformat()}])
    elif op == "renew" and order is not None:
        purchase_order_renew(order_pk=order.pk, at=now)
    elif op == "modify" and order is not None:
        other = {"vol-50g": "vol-100g", "vol-100g": "vol-10g"}.get(order.plan.plan_id, "vol-50g")
        purchase_order_modify(order_pk=order.pk, plan_id=other, at=now)
    elif op == "cancel" and order is not None:
        purchase_order_cancel(order_pk=order.pk, refund_unused=bool(pick % 2), at=now)
    elif op == "pkg":
        create_order(account, ext=f"{tag}-i{next(_n)}", cpu=("2", "4")[pick % 2], at=now)
    elif op == "charge" and instance is not None:
        package_order_charge(order_pk=instance.order_id, at=now)
    elif op == "pkg_cancel" and instance is not None:
        package_order_cancel(order_pk=instance.order_id, at=now)
    elif op == "pkg_renew" and instance is not None:
        instance_renew(prod_inst_id_ext=instance.prod_inst_id_ext, duration=str(pick % 3 + 1), at=now)
    elif op == "change" and instance is not None:
        changes = [ComponentChange("cpu", {"cpu": ("2", "4")[pick % 2]})]
        instance_change_config(
            prod_inst_id_ext=instance.prod_inst_id_ext, plan_id="vm-std", changes=changes, at=now
        )
    elif op == "stop" and instance is not None:
        instance_stop(prod_inst_id_ext=instance.prod_inst_id_ext, at=now)


def _ledger(account, start: datetime, end: datetime) -> Decimal:
    entries = LedgerEntry.objects.filter(
        account=account, kind__in=["charge", "refund"], created_at__gte=start, created_at__lt=end
    )
    return -money_sum(entries)


def _reported(account, start: datetime, end: datetime) -> tuple[Decimal, Decimal]:
    report = usage_report(start=start, end=end, group_by="order", account_ids=[account.pk])
    assert report.total == sum((r["amount"] for r in report.rows), Decimal(0))
    return report.total, report.arrears


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=HISTORY, window=st.tuples(st.integers(0, 24 * 90), st.integers(1, 24 * 60)))
@example(  # traffic billed into arrears, settled after a recharge, then arrears again; a package
    # order never charged
    history=[
        ("create", 3, 2),
        ("create", 1, 2),
        ("traffic", 0, 70),
        ("traffic", 0, 60),
        ("bill", 0, 24),
        ("bill", 0, 24),
        ("pkg", 0, 1),
        ("fund", 0, 70),
        ("bill", 0, 24),
        ("traffic", 0, 60),
        ("bill", 0, 24),
    ],
    window=(0, 24 * 40),
)
@example(  # a switch with a credit, a refunding cancel, a package charged, changed down, renewed, stopped
    history=[("fund", 0, 100), ("create", 0, 5), ("modify", 0, 40), ("create", 4, 3), ("cancel", 5, 30),
             ("pkg", 1, 1), ("charge", 0, 1), ("change", 0, 10), ("pkg_renew", 1, 2), ("stop", 0, 5),
             ("pkg", 0, 1), ("pkg_cancel", 1, 1)],
    window=(24 * 3, 24 * 10),
)  # fmt: skip
def test_report_equals_the_ledger_for_every_period(db, history, window):
    _catalog()
    user = get_user_model().objects.create_user(username=f"led{next(_n)}")
    with simulated_now(local(2026, 3, 1)):
        account = account_of(user, "60")
    now = local(2026, 3, 1, 9)
    for op, pick, size in history:
        # operations on a running subscription come minutes apart (inside its paid hour), the
        # others hours apart (billing runs, renewals and recharges across days and months)
        now += timedelta(minutes=size) if op in MINUTES_APART else timedelta(hours=size)
        with simulated_now(now):
            try:
                _apply(op, pick, size, account=account, user=user, now=now, tag=f"u{user.pk}")
            except DomainError:
                pass  # refused (short balance, wrong state): nothing moved, still a valid history
    months = [month_range(local(2026, m, 1).date()) for m in (3, 4, 5, 6, 7, 8, 9)]
    start = local(2026, 3, 1) + timedelta(hours=window[0])
    periods = [*months, (start, start + timedelta(hours=window[1]))]
    day = local(2026, 3, 1)
    while day < now + timedelta(days=1):
        periods.append((day, day + timedelta(days=1)))
        day += timedelta(days=1)
    everything = (local(2026, 1, 1), now + timedelta(days=400))
    for begin, end in [*periods, everything]:
        money, owed = _reported(account, begin, end)
        assert money == _ledger(account, begin, end), (begin, end)
        billed = UsageRecord.objects.filter(
            account=account, status=UsageStatus.ARREARS, created_at__gte=begin, created_at__lt=end
        )
        assert owed == money_sum(billed), (begin, end)
    # arrears are owed, not moved: over all time they are exactly the arrears records
    _, owed = _reported(account, *everything)
    assert owed == money_sum(UsageRecord.objects.filter(account=account, status=UsageStatus.ARREARS))
    # nothing unpaid or canceled is in the money
    total, _ = _reported(account, *everything)
    paid = money_sum(UsageRecord.objects.filter(account=account, status=UsageStatus.PAID))
    assert total == paid
