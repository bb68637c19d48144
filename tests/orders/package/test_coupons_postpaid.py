"""A ``coupon`` on a package order whose promotion targets its postpaid component (issue 20.1;
docs/package-orders.md "Coupons"): nothing to discount at the create, each metered period billed by
the jobs runner net while the duration covers it (period 1 = the first hour after the charge), and
a late event or a void of a discounted period priced as if on time (docs/decisions.md)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.models import Account, Redemption
from billing.services import account_credit
from orders.jobs import billing_jobs_run
from orders.package.metering_void import meter_events_void
from orders.package.services import package_order_charge, package_order_create
from orders.package.specs import InstanceSpec, ProductSpec
from tests.orders.package.factories import T0, assert_balanced, funded_account, make_catalog
from tests.orders.package.metered_order import event, ingest
from tests.plans.factories import PromotionFactory
from usage.audit import ledger_audit
from usage.models import UsageKind, UsageRecord

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


def charged_order(coupon: str) -> tuple[Account, str]:
    """Alice's order "i-1" (sys prepaid 30, cpu hourly 1.2, net postpaid 0.5/unit an hour) with
    ``coupon``, charged at ``T0``."""
    make_catalog()
    account = funded_account("alice", "0")
    account_credit(account_id=account.pk, amount=Decimal("1000"), idempotency_key="f", subject=("test", "f"))
    res = package_order_create(
        account_id=account.pk, app_id="app", order_user_name="Alice", description="test", extra_info={},
        products=[
            ProductSpec(prod_id="vm", plan_id="vm-std", attrs={"cpu": "2"},
                        instances=[InstanceSpec(prod_inst_id_ext="i-1", is_auto_renew=False)])
        ],
        at=T0, coupon=coupon,
    )  # fmt: skip
    package_order_charge(order_pk=res.order.pk, at=T0)
    return account, res.order.order_id


def net_records(kind: str = UsageKind.USAGE) -> list[UsageRecord]:
    return list(UsageRecord.objects.filter(component_id="net", kind=kind).order_by("period_start", "pk"))


def test_the_postpaid_component_is_discounted_for_the_promotions_periods(user):
    PromotionFactory(
        code="NET", value=Decimal("50"), duration="periods", duration_periods=2, components=["vm/net"]
    )
    account, order_id = charged_order("NET")
    assert Redemption.objects.get().subject_id == order_id
    first = {r.component_id: r for r in UsageRecord.objects.filter(kind=UsageKind.NEW)}
    assert first["sys"].discount == first["cpu"].discount == 0  # the promotion targets net only
    assert "net" not in first  # postpaid: nothing at the create
    for hour in range(3):
        ingest(account, event(f"e{hour}", "10", T0 + hour * HOUR + 5 * MIN), at=T0 + hour * HOUR + 6 * MIN)
    summary = billing_jobs_run(at=T0 + 3 * HOUR + MIN)
    assert (summary["postpaid_billed"], summary["discount"]) == (3, "5.0000")  # the job's result
    assert [(r.amount, r.discount) for r in net_records()] == [
        (Decimal("2.5"), Decimal("2.5")),
        (Decimal("2.5"), Decimal("2.5")),
        (Decimal("5"), Decimal("0")),
    ]
    hours = UsageRecord.objects.filter(component_id="cpu", kind=UsageKind.HOURLY)
    assert hours.count() == 3 and all(h.discount == 0 and h.amount == Decimal("1.2") for h in hours)
    assert_balanced(account)
    assert ledger_audit() == []


def test_a_product_wide_promotion_discounts_the_later_hours_and_the_metered_periods(user):
    PromotionFactory(code="VM", value=Decimal("10"), duration="forever", products=["vm"])
    account, _ = charged_order("VM")
    ingest(account, event("a", "20", T0 + 5 * MIN), at=T0 + 6 * MIN)
    billing_jobs_run(at=T0 + 2 * HOUR + MIN)
    assert [(r.amount, r.discount) for r in net_records()] == [
        (Decimal("9"), Decimal("1")),
        (Decimal("0"), Decimal("0")),
    ]
    hours = UsageRecord.objects.filter(component_id="cpu", kind=UsageKind.HOURLY).order_by("period_start")
    assert [(h.amount, h.discount) for h in hours] == [(Decimal("1.08"), Decimal("0.12"))] * 2
    assert_balanced(account)
    assert ledger_audit() == []


def test_a_late_event_of_a_discounted_period_is_priced_as_if_on_time_and_a_void_refunds_what_was_paid(user):
    PromotionFactory(code="NET", value=Decimal("20"), duration="once", components=["vm/net"])
    account, _ = charged_order("NET")
    ingest(account, event("a", "10", T0 + 5 * MIN), at=T0 + 6 * MIN)
    ingest(account, event("b", "10", T0 + HOUR + 5 * MIN), at=T0 + HOUR + 6 * MIN)
    billing_jobs_run(at=T0 + 2 * HOUR + MIN)
    first, second = net_records()
    assert (first.amount, first.discount) == (Decimal("4"), Decimal("1"))  # 10 x 0.5 less 20 %
    assert (second.amount, second.discount) == (Decimal("5"), Decimal("0"))  # "once": not covered

    # late events of both periods: the first one's correction gets the period's promotion
    ingest(account, event("late1", "6", T0 + 30 * MIN), event("late2", "6", T0 + HOUR + 30 * MIN),
           at=T0 + 2 * HOUR + 2 * MIN)  # fmt: skip
    summary = billing_jobs_run(at=T0 + 2 * HOUR + 3 * MIN)
    assert (summary["late_corrections"], summary["discount"]) == (2, "0.6000")
    fix1, fix2 = net_records(UsageKind.CORRECTION)
    assert (fix1.corrects_id, fix1.amount, fix1.discount) == (first.pk, Decimal("2.4"), Decimal("0.6"))
    assert (fix2.corrects_id, fix2.amount, fix2.discount) == (second.pk, Decimal("3"), Decimal("0"))
    # the first period: 16 units, 8 gross, 6.4 net, exactly what an on-time bill would have been
    assert first.amount + fix1.amount == Decimal("6.4")

    # voiding every event of the first period refunds exactly what it paid; no discount on it
    balance_before = account.__class__.objects.get(pk=account.pk).balance
    res = meter_events_void(account_id=account.pk, event_ids=["a", "late1"], at=T0 + 2 * HOUR + 4 * MIN)
    assert res.refunded == Decimal("6.4")
    void = UsageRecord.objects.get(kind=UsageKind.CORRECTION, amount__lt=0)
    assert (void.corrects_id, void.amount, void.discount) == (first.pk, Decimal("-6.4"), Decimal("0"))
    assert account.__class__.objects.get(pk=account.pk).balance == balance_before + Decimal("6.4")
    assert_balanced(account)
    assert ledger_audit() == []


def test_a_late_event_after_a_partial_void_keeps_the_period_net(user):
    PromotionFactory(code="NET", value=Decimal("20"), duration="forever", components=["vm/net"])
    account, _ = charged_order("NET")
    ingest(account, event("a", "10", T0 + 5 * MIN), event("b", "10", T0 + 6 * MIN), at=T0 + 7 * MIN)
    billing_jobs_run(at=T0 + HOUR + MIN)
    (first,) = net_records()
    assert (first.amount, first.discount) == (Decimal("8"), Decimal("2"))
    meter_events_void(account_id=account.pk, event_ids=["b"], at=T0 + HOUR + 2 * MIN)
    ingest(account, event("late", "4", T0 + 30 * MIN), at=T0 + HOUR + 3 * MIN)
    billing_jobs_run(at=T0 + HOUR + 4 * MIN)
    group = UsageRecord.objects.filter(line_id=first.line_id, period_start=T0)
    # 14 units: 7 gross, 5.6 net, whatever the order the events came and went
    assert sum((r.amount for r in group), Decimal(0)) == Decimal("5.6")
    assert all(r.discount >= 0 and (r.amount >= 0 or r.discount == 0) for r in group)
    assert_balanced(account)
    assert ledger_audit() == []
