"""The billing-job runner and the auto-renew runner (single process; MariaDB concurrency elsewhere)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from orders.jobs import billing_jobs_run, package_auto_renew_run
from orders.models import ProductInstance, SubscriptionLine
from orders.package.lifecycle import instance_pause, instance_stop
from orders.package.services import package_order_charge
from tests.orders.package.factories import T0, assert_balanced, create_order, funded_account, make_catalog
from usage.models import MeterEvent, UsageRecord

pytestmark = pytest.mark.django_db
PAID_AT = T0


@pytest.fixture
def account():
    make_catalog()
    return funded_account("alice", "1000")


def start(account, ext="i-1", **kw):
    res = create_order(account, ext=ext, **kw)
    package_order_charge(order_pk=res.order.pk, at=PAID_AT)
    return res.order


def line(component, ext="i-1"):
    inst = ProductInstance.objects.get(prod_inst_id_ext=ext)
    return SubscriptionLine.objects.get(subscription_id=inst.subscription_id, component_id=component)


def meter(account, qty, minutes, ext="i-1", eid="e"):
    net = line("net", ext)
    MeterEvent.objects.create(
        account=account,
        event_id=eid,
        line_id=net.pk,
        instance_ref=ext,
        component_id="net",
        quantity=Decimal(qty),
        timestamp=PAID_AT + timedelta(minutes=minutes),
    )


def test_runner_charges_hours_ahead_and_bills_postpaid_once_even_when_run_twice(account):
    start(account)
    meter(account, "4", 10, eid="a")
    meter(account, "6", 70, eid="b")  # falls in the second hour
    at = PAID_AT + timedelta(hours=1, minutes=1)
    first = billing_jobs_run(at=at, chunk_size=1)
    assert first["hourly_charged"] == 1 and first["postpaid_billed"] == 1
    again = billing_jobs_run(at=at)
    assert again.get("hourly_charged", 0) == 0 and again.get("postpaid_billed", 0) == 0
    hourly = UsageRecord.objects.filter(kind="hourly")
    assert hourly.count() == 1 and hourly[0].period_start == PAID_AT + timedelta(hours=1)
    usage = UsageRecord.objects.get(kind="usage")
    assert usage.quantity == 4 and usage.amount == Decimal("2.0000") and usage.status == "paid"
    assert line("cpu").next_run_at == PAID_AT + timedelta(hours=2)
    assert line("net").next_run_at == PAID_AT + timedelta(hours=2)
    # three hours later: catches up hour by hour, each period once
    billing_jobs_run(at=PAID_AT + timedelta(hours=4, minutes=1))
    assert UsageRecord.objects.filter(kind="hourly").count() == 4
    assert list(
        UsageRecord.objects.filter(kind="usage").order_by("period_start").values_list("quantity", flat=True)
    ) == [
        4,
        6,
        0,
        0,
    ]
    assert_balanced(account)


def test_paused_is_skipped_and_stopped_ends_the_job(account):
    start(account)
    start(account, ext="i-2")
    instance_pause(prod_inst_id_ext="i-1", at=PAID_AT + timedelta(minutes=5))
    instance_stop(prod_inst_id_ext="i-2", at=PAID_AT + timedelta(minutes=5))
    summary = billing_jobs_run(at=PAID_AT + timedelta(hours=1, minutes=1))
    assert summary.get("hourly_charged", 0) == 0
    assert not UsageRecord.objects.filter(kind="hourly").exists()
    assert line("cpu", "i-2").status == "stopped" and line("cpu", "i-2").next_run_at is None


def test_failed_hourly_charge_suspends_the_instance(account):
    poor = funded_account("poor", "31.2")
    start(poor, ext="p-1")
    summary = billing_jobs_run(at=PAID_AT + timedelta(hours=1, minutes=1))
    assert summary["suspended"] == 1
    inst = ProductInstance.objects.get(prod_inst_id_ext="p-1")
    assert inst.status == "suspended" and inst.subscription.status == "suspended"
    assert line("cpu", "p-1").status == "paused"
    assert_balanced(poor)


def test_auto_renew_renews_before_expiry_once(account):
    start(account, auto_renew=True)
    sys_line = line("sys")
    assert sys_line.next_run_at == sys_line.paid_until - timedelta(days=1)
    at = sys_line.next_run_at + timedelta(minutes=1)
    assert package_auto_renew_run(at=at)["renewed"] == 1
    assert package_auto_renew_run(at=at) == {}
    sys_line.refresh_from_db()
    assert sys_line.periods_billed == 2
    assert UsageRecord.objects.filter(kind="renew").count() == 1
    assert LedgerEntry.objects.filter(subject_type="package_order", kind="charge").count() == 2
    assert_balanced(account)


def test_auto_renew_without_funds_retries_then_suspends(account):
    poor = funded_account("poor", "31.2")
    start(poor, ext="p-1", auto_renew=True)
    sys_line = line("sys", "p-1")
    summary = package_auto_renew_run(at=sys_line.next_run_at)
    assert summary["renew_failed"] == 1
    sys_line.refresh_from_db()
    assert sys_line.next_run_at > sys_line.paid_until - timedelta(days=1)
    package_auto_renew_run(at=sys_line.paid_until + timedelta(minutes=1))
    assert ProductInstance.objects.get(prod_inst_id_ext="p-1").status == "suspended"
