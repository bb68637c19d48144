"""The billing-job runner and metering serve purchase subscriptions too (one engine), and the
balance always equals the ledger sum through a random mix of package operations."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

import pytest

from config.exceptions import DomainError
from orders.jobs import billing_jobs_run
from orders.models import LineStatus, Subscription, SubscriptionKind, SubscriptionLine, SubscriptionStatus
from orders.package import services as svc
from orders.package import specs
from orders.package.instances import instance_change_config, instance_renew
from orders.package.lifecycle import instance_pause, instance_resume, instance_stop
from orders.package.metering import meter_events_ingest
from orders.package.tasks import package_auto_renew
from orders.tasks import run_billing_jobs
from plans.models import BillingMode, Cycle, PriceVersion
from tests.orders.package.factories import (
    EPOCH,
    T0,
    PlanFactory,
    assert_balanced,
    create_order,
    funded_account,
    make_catalog,
)
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


def purchase_line(account, mode: str, ref: str) -> SubscriptionLine:
    plan = PlanFactory(plan_id=f"pur-{mode}", billing_mode=mode, cycle=Cycle.HOUR)
    sub = Subscription.objects.create(
        account=account,
        kind=SubscriptionKind.PURCHASE,
        order_ref=ref,
        status=SubscriptionStatus.BILLING,
        anchor=T0,
    )
    return SubscriptionLine.objects.create(
        subscription=sub,
        plan=plan,
        billing_mode=mode,
        cycle=Cycle.HOUR,
        price=Decimal("0.25"),
        status=LineStatus.RUNNING,
        periods_billed=1 if mode == BillingMode.HOURLY else 0,
        paid_until=T0 + timedelta(hours=1) if mode == BillingMode.HOURLY else None,
        next_run_at=T0 + timedelta(hours=1),
    )


def test_runner_and_metering_serve_purchase_subscriptions():
    account = funded_account("carol", "10")
    hourly = purchase_line(account, BillingMode.HOURLY, "PUR-H")
    hourly.quantity = Decimal(2)
    hourly.save(update_fields=["quantity"])
    version = PriceVersion.objects.create(plan=hourly.plan, price=Decimal("0.30"), effective_from=EPOCH)
    postpaid = purchase_line(account, BillingMode.POSTPAID, "PUR-P")
    res = meter_events_ingest(
        account_id=account.pk,
        events=[
            {
                "event_id": "p1",
                "instance": "PUR-P",
                "quantity": "8",
                "timestamp": (T0 + timedelta(minutes=9)).isoformat(),
            }
        ],
    )
    assert res.accepted == 1 and res.rejected == []
    summary = billing_jobs_run(at=T0 + timedelta(hours=1, minutes=2))
    assert summary["hourly_charged"] == 1 and summary["postpaid_billed"] == 1
    rec = UsageRecord.objects.get(line_id=hourly.pk)
    assert rec.source == "purchase" and rec.price_version_id == version.pk
    assert rec.quantity == 2 and rec.amount == Decimal("0.6000")  # the version in force x quantity
    assert UsageRecord.objects.get(line_id=postpaid.pk).amount == Decimal("2.0000")
    assert_balanced(account)


def test_tasks_run_the_services():
    make_catalog()
    account = funded_account("alice", "100")
    order = create_order(account).order
    svc.package_order_charge(order_pk=order.pk, at=T0 - timedelta(hours=2))
    out = run_billing_jobs.apply().get()
    assert out["hourly_charged"] >= 2
    assert isinstance(package_auto_renew.apply().get(), dict)
    assert_balanced(account)


def test_resume_of_a_suspended_instance_after_a_recharge():
    from billing.services import account_credit

    make_catalog()
    poor = funded_account("poor", "31.2")
    order = create_order(poor).order
    svc.package_order_charge(order_pk=order.pk, at=T0)
    billing_jobs_run(at=T0 + timedelta(hours=1, minutes=1))
    with pytest.raises(DomainError):  # still no money: nothing changes
        instance_resume(prod_inst_id_ext="i-1", at=T0 + timedelta(hours=2, minutes=30))
    from orders.models import ProductInstance

    assert ProductInstance.objects.get().status == "suspended"
    account_credit(account_id=poor.pk, amount=Decimal("5"), idempotency_key="r1")
    instance_resume(prod_inst_id_ext="i-1", at=T0 + timedelta(hours=2, minutes=30))
    assert ProductInstance.objects.get().status == "running"
    rec = UsageRecord.objects.get(kind="hourly")
    assert rec.period_start == T0 + timedelta(hours=2) and rec.status == "paid"
    assert_balanced(poor)


def test_random_operations_keep_balance_equal_to_ledger_sum():
    make_catalog()
    account = funded_account("rand", "300")
    rng = random.Random(7)
    at = T0
    exts: list[str] = []
    for step in range(60):
        at += timedelta(minutes=rng.randrange(5, 90))
        op = rng.choice(["create", "charge", "renew", "stop", "pause", "resume", "change", "jobs", "cancel"])
        try:
            if op == "create" or not exts:
                ext = f"r-{step}"
                create_order(account, ext=ext, at=at)
                exts.append(ext)
            else:
                ext = rng.choice(exts)
                from orders.models import ProductInstance

                inst = ProductInstance.objects.get(prod_inst_id_ext=ext)
                if op == "charge":
                    svc.package_order_charge(order_pk=inst.order_id, at=at)
                elif op == "cancel":
                    svc.package_order_cancel(order_pk=inst.order_id, at=at)
                elif op == "renew":
                    instance_renew(prod_inst_id_ext=ext, duration="1", at=at)
                elif op == "stop":
                    instance_stop(prod_inst_id_ext=ext, at=at)
                elif op == "pause":
                    instance_pause(prod_inst_id_ext=ext, at=at)
                elif op == "resume":
                    instance_resume(prod_inst_id_ext=ext, at=at)
                elif op == "change":
                    instance_change_config(
                        prod_inst_id_ext=ext,
                        plan_id="vm-std",
                        changes=[specs.ComponentChange("cpu", {"cpu": rng.choice(["2", "4"])})],
                        at=at,
                    )
                else:
                    billing_jobs_run(at=at)
        except DomainError:
            pass
        assert_balanced(account)
    assert (
        UsageRecord.objects.values("line_id", "period_key").distinct().count() == UsageRecord.objects.count()
    )
