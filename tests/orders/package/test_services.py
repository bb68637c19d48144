"""Package-order services: every operation and its error paths, with ledger sums checked."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from billing.services import account_credit
from config.exceptions import DomainError, InsufficientFunds
from orders.models import (
    ConsumeOrder,
    InstanceStatus,
    LineStatus,
    PackageOrder,
    PackageOrderEvent,
    ProductInstance,
    SubscriptionLine,
)
from orders.package.instances import instance_change_config, instance_renew
from orders.package.lifecycle import instance_pause, instance_resume, instance_stop
from orders.package.services import package_order_cancel, package_order_charge
from orders.package.specs import ComponentChange
from tests.orders.package.factories import (
    T0,
    PriceRuleFactory,
    assert_balanced,
    create_order,
    funded_account,
    make_catalog,
)
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db

PAID_AT = T0 + timedelta(minutes=1)


@pytest.fixture
def catalog():
    return make_catalog()


@pytest.fixture
def account(catalog):
    return funded_account("alice", "1000")


def lines_of(ext):
    inst = ProductInstance.objects.get(prod_inst_id_ext=ext)
    return {
        ln.component_id: ln for ln in SubscriptionLine.objects.filter(subscription_id=inst.subscription_id)
    }


def paid_order(account, ext="i-1", **kw):
    res = create_order(account, ext=ext, **kw)
    package_order_charge(order_pk=res.order.pk, at=PAID_AT)
    return res.order


def test_create_writes_unpaid_first_period_records_and_one_consume_order(account):
    res = create_order(account)
    order = res.order
    assert (
        order.status == "unpaid" and res.cost == Decimal("31.2000") and res.amount_payable == Decimal("31.2")
    )
    records = UsageRecord.objects.filter(order_ref=order.order_id).order_by("component_id")
    assert [(r.component_id, r.amount, r.status, r.kind) for r in records] == [
        ("cpu", Decimal("1.2000"), "unpaid", "new"),
        ("sys", Decimal("30.0000"), "unpaid", "new"),
    ]
    cpu = records[0]
    assert cpu.period_end - cpu.period_start == timedelta(hours=1)
    co = ConsumeOrder.objects.get(order=order)
    assert co.type == "new" and co.status == "unpaid" and co.amount == Decimal("31.2")
    assert set(co.records.values_list("pk", flat=True)) == {r.pk for r in records}
    lines = lines_of("i-1")
    assert {k: v.status for k, v in lines.items()} == {"sys": "pending", "cpu": "pending", "net": "pending"}
    assert PackageOrderEvent.objects.filter(order=order, reason="created").exists()
    assert LedgerEntry.objects.filter(account=account, kind="charge").count() == 0


def test_create_with_pricing_error_writes_nothing(account):
    with pytest.raises(DomainError) as exc:
        create_order(account, cpu="16")
    assert int(exc.value.code_for("package")) == 3407 and int(exc.value.code_for("plans")) == 3604
    assert "cpu" in exc.value.message
    assert PackageOrder.objects.count() == 0 and UsageRecord.objects.count() == 0


def test_create_refuses_an_existing_instance_id(account):
    create_order(account, ext="dup")
    with pytest.raises(DomainError) as exc:
        create_order(account, ext="dup")
    assert exc.value.errors and "already exists" in next(iter(exc.value.errors.values()))[0]
    assert PackageOrder.objects.count() == 1


def test_charge_pays_everything_in_one_ledger_entry_and_starts_clocks(account):
    order = paid_order(account)
    order.refresh_from_db()
    assert order.status == "paid" and order.ledger_entry is not None
    entry = order.ledger_entry
    assert entry.amount == Decimal("-31.2000")
    assert set(
        UsageRecord.objects.filter(order_ref=order.order_id).values_list("status", "ledger_entry")
    ) == {("paid", entry.pk)}
    inst = ProductInstance.objects.get(prod_inst_id_ext="i-1")
    assert inst.status == "running" and inst.subscription.status == "billing"
    assert inst.subscription.anchor == PAID_AT
    lines = lines_of("i-1")
    assert all(ln.status == "running" for ln in lines.values())
    assert lines["cpu"].paid_until == PAID_AT + timedelta(hours=1) == lines["cpu"].next_run_at
    assert lines["net"].next_run_at == PAID_AT + timedelta(hours=1) and lines["net"].periods_billed == 0
    assert lines["sys"].paid_until.month == 4 and lines["sys"].next_run_at is None
    cpu_record = UsageRecord.objects.get(line_id=lines["cpu"].pk)
    assert cpu_record.period_start == PAID_AT
    assert ConsumeOrder.objects.get(order=order).status == "paid"
    # a repeat moves nothing and answers the same
    again = package_order_charge(order_pk=order.pk)
    assert again.order.ledger_entry_id == entry.pk
    assert LedgerEntry.objects.filter(account=account, kind="charge").count() == 1
    assert_balanced(account)


def test_charge_without_funds_changes_nothing(catalog):
    poor = funded_account("poor", "10")
    res = create_order(poor)
    with pytest.raises(InsufficientFunds):
        package_order_charge(order_pk=res.order.pk, at=PAID_AT)
    res.order.refresh_from_db()
    assert res.order.status == "unpaid"
    assert ProductInstance.objects.get(prod_inst_id_ext="i-1").status == "pending"
    assert not UsageRecord.objects.filter(status="paid").exists()
    assert_balanced(poor)


def test_charge_of_a_canceled_order_is_refused(account):
    res = create_order(account)
    package_order_cancel(order_pk=res.order.pk)
    with pytest.raises(DomainError) as exc:
        package_order_charge(order_pk=res.order.pk)
    assert int(exc.value.code_for("package")) == 3402 and exc.value.http_status == 409
    assert LedgerEntry.objects.filter(account=account, kind="charge").count() == 0


def test_cancel_cancels_everything(account):
    res = create_order(account)
    package_order_cancel(order_pk=res.order.pk)
    res.order.refresh_from_db()
    assert res.order.status == "canceled"
    inst = ProductInstance.objects.get(prod_inst_id_ext="i-1")
    assert inst.status == "canceled" and inst.subscription.status == "canceled"
    assert set(SubscriptionLine.objects.values_list("status", flat=True)) == {"canceled"}
    assert set(UsageRecord.objects.values_list("status", flat=True)) == {"canceled"}
    assert ConsumeOrder.objects.get().status == "canceled"


def test_cancel_of_a_paid_order_is_refused(account):
    order = paid_order(account)
    with pytest.raises(DomainError) as exc:
        package_order_cancel(order_pk=order.pk)
    assert int(exc.value.code_for("package")) == 3402
    order.refresh_from_db()
    assert order.status == "paid"


def test_renew_charges_all_prepaid_lines_once_for_a_shared_period(account):
    paid_order(account)
    before = lines_of("i-1")["sys"].paid_until
    res = instance_renew(prod_inst_id_ext="i-1", duration="3M", at=PAID_AT + timedelta(days=20))
    assert res.cost == Decimal("90.0000")
    sys_line = lines_of("i-1")["sys"]
    assert sys_line.periods_billed == 4 and sys_line.paid_until.month == before.month + 3
    rec = UsageRecord.objects.get(kind="renew")
    assert rec.period_start == before and rec.quantity == 3 and rec.amount == Decimal("90")
    co = ConsumeOrder.objects.get(type="renew")
    assert co.status == "paid" and co.amount == Decimal("90") and co.ledger_entry.amount == Decimal("-90")
    assert_balanced(account)


def test_renew_of_an_instance_without_prepaid_components_is_refused(account):
    paid_order(account, ext="h-1", prod="vmh")
    with pytest.raises(DomainError) as exc:
        instance_renew(prod_inst_id_ext="h-1", duration="1")
    assert int(exc.value.code_for("package")) == 3406
    assert not ConsumeOrder.objects.filter(type="renew").exists()


def test_renew_bad_duration(account):
    paid_order(account)
    with pytest.raises(DomainError) as exc:
        instance_renew(prod_inst_id_ext="i-1", duration="2W")
    assert exc.value.errors and "duration" in exc.value.errors


def test_stop_in_the_middle_of_an_hour_refunds_the_unused_part(account):
    paid_order(account)
    stop_at = PAID_AT + timedelta(minutes=20)
    balance_before = account.__class__.objects.get(pk=account.pk).balance
    res = instance_stop(prod_inst_id_ext="i-1", at=stop_at)
    # 40 of 60 minutes unused of a 1.2 hour: 0.8 back
    assert res.extra["refunded"] == Decimal("0.8000")
    refund = UsageRecord.objects.get(kind="refund")
    assert refund.amount == Decimal("-0.8000") and refund.status == "paid"
    assert refund.quantity == Decimal("-0.6667")
    assert refund.ledger_entry.amount == Decimal("0.8000") and refund.ledger_entry.kind == "refund"
    account.refresh_from_db()
    assert account.balance == balance_before + Decimal("0.8")
    inst = ProductInstance.objects.get(prod_inst_id_ext="i-1")
    assert inst.status == "stopped" and inst.subscription.status == "stopped"
    assert all(ln.status == "stopped" and ln.next_run_at is None for ln in lines_of("i-1").values())
    # prepaid month not refunded
    assert not UsageRecord.objects.filter(component_id="sys", amount__lt=0).exists()
    assert_balanced(account)


def test_stop_bills_the_last_postpaid_period(account):
    from usage.models import MeterEvent

    paid_order(account)
    net = lines_of("i-1")["net"]
    MeterEvent.objects.create(
        account=account,
        event_id="e1",
        line_id=net.pk,
        instance_ref="i-1",
        component_id="net",
        quantity=Decimal("7"),
        timestamp=PAID_AT + timedelta(minutes=5),
    )
    res = instance_stop(prod_inst_id_ext="i-1", at=PAID_AT + timedelta(minutes=30))
    assert res.extra["postpaid_billed"] == Decimal("3.5000")
    rec = UsageRecord.objects.get(kind="usage")
    assert rec.quantity == 7 and rec.status == "paid" and rec.period_end == PAID_AT + timedelta(minutes=30)
    assert_balanced(account)


def test_stop_of_a_paused_instance(account):
    paid_order(account)
    instance_pause(prod_inst_id_ext="i-1", at=PAID_AT + timedelta(minutes=10))
    assert ProductInstance.objects.get(prod_inst_id_ext="i-1").status == "paused"
    res = instance_stop(prod_inst_id_ext="i-1", at=PAID_AT + timedelta(minutes=30))
    assert res.extra["refunded"] == Decimal("0.6000")
    assert ProductInstance.objects.get(prod_inst_id_ext="i-1").status == InstanceStatus.STOPPED
    events = list(
        PackageOrderEvent.objects.filter(instance__prod_inst_id_ext="i-1").values_list("reason", flat=True)
    )
    assert events[-2:] == ["paused", "stopped"]
    assert_balanced(account)


def test_stop_of_an_unpaid_instance_is_refused(account):
    create_order(account)
    with pytest.raises(DomainError) as exc:
        instance_stop(prod_inst_id_ext="i-1")
    assert int(exc.value.code_for("package")) == 3405


def test_pause_and_resume_after_the_paid_hour_charges_the_current_hour(account):
    paid_order(account)
    instance_pause(prod_inst_id_ext="i-1", at=PAID_AT + timedelta(minutes=10))
    assert lines_of("i-1")["cpu"].status == LineStatus.PAUSED
    resume_at = PAID_AT + timedelta(hours=5, minutes=10)
    instance_resume(prod_inst_id_ext="i-1", at=resume_at)
    cpu = lines_of("i-1")["cpu"]
    assert cpu.status == "running"
    assert cpu.paid_until == PAID_AT + timedelta(hours=6) == cpu.next_run_at
    hourly = UsageRecord.objects.filter(kind="hourly")
    assert hourly.count() == 1 and hourly[0].period_start == PAID_AT + timedelta(hours=5)
    assert_balanced(account)


def test_change_config_charges_the_difference_for_the_rest_of_the_period(account):
    paid_order(account)
    at = PAID_AT + timedelta(minutes=30)
    res = instance_change_config(
        prod_inst_id_ext="i-1", plan_id="vm-std", changes=[ComponentChange("cpu", {"cpu": "4"})], at=at
    )
    # (2.4 - 1.2) x 30 min left of the hour = 0.6
    assert res.cost == Decimal("0.6000")
    rec = UsageRecord.objects.get(kind="change")
    assert rec.amount == Decimal("0.6") and rec.status == "paid"
    co = ConsumeOrder.objects.get(type="change")
    assert co.amount == Decimal("0.6") and co.ledger_entry.amount == Decimal("-0.6")
    cpu = lines_of("i-1")["cpu"]
    assert cpu.price == Decimal("2.4") and cpu.attrs["cpu"] == "4"
    # and back down: a refund
    res2 = instance_change_config(
        prod_inst_id_ext="i-1",
        plan_id="vm-std",
        changes=[ComponentChange("cpu", {"cpu": "2"})],
        at=PAID_AT + timedelta(minutes=45),
    )
    assert res2.cost == Decimal("-0.3000")
    assert ConsumeOrder.objects.filter(type="change").last().ledger_entry.kind == "refund"
    assert_balanced(account)


@pytest.mark.parametrize(("attrs", "code"), [({"cpu": "16"}, 3604), ({"cpu": "8", "gen": "x"}, 3605)])
def test_change_config_with_zero_or_two_matching_rules_changes_nothing(account, catalog, attrs, code):
    cpu_c = catalog.product.components.get(component_id="cpu")
    PriceRuleFactory(plan=catalog.plan, component=cpu_c, attrs={"cpu": "8"}, price=Decimal("5"))
    PriceRuleFactory(plan=catalog.plan, component=cpu_c, attrs={"gen": "x"}, price=Decimal("6"))
    paid_order(account)
    entries = LedgerEntry.objects.count()
    with pytest.raises(DomainError) as exc:
        instance_change_config(
            prod_inst_id_ext="i-1",
            plan_id="vm-std",
            changes=[ComponentChange("cpu", attrs)],
            at=PAID_AT + timedelta(minutes=30),
        )
    assert int(exc.value.code_for("package")) == 3407 and "cpu" in exc.value.message
    assert int(exc.value.code_for("plans")) == code  # which failure it was, outside the order family
    assert LedgerEntry.objects.count() == entries
    assert not ConsumeOrder.objects.filter(type="change").exists()
    assert lines_of("i-1")["cpu"].attrs == {"cpu": "2"}


def test_change_config_unknown_component(account):
    paid_order(account)
    with pytest.raises(DomainError) as exc:
        instance_change_config(prod_inst_id_ext="i-1", plan_id="vm-std", changes=[ComponentChange("gpu", {})])
    assert exc.value.errors == {"component_infos[0].component_id": ["instance i-1 has no component 'gpu'"]}


def test_arrears_are_settled_after_a_recharge(catalog):
    from usage.services import arrears_settle

    acc = funded_account("bob", "31.2")
    paid_order(acc)
    from orders.jobs import billing_jobs_run
    from usage.models import MeterEvent

    net = lines_of("i-1")["net"]
    MeterEvent.objects.create(
        account=acc,
        event_id="e1",
        line_id=net.pk,
        instance_ref="i-1",
        component_id="net",
        quantity=Decimal("10"),
        timestamp=PAID_AT + timedelta(minutes=5),
    )
    summary = billing_jobs_run(at=PAID_AT + timedelta(hours=1, seconds=1))
    assert summary.get("arrears") == 1 and summary.get("suspended") == 1
    rec = UsageRecord.objects.get(kind="usage")
    assert rec.status == "arrears" and rec.amount == Decimal("5")
    assert ProductInstance.objects.get(prod_inst_id_ext="i-1").status == "suspended"
    assert arrears_settle(account_id=acc.pk).settled == 0
    account_credit(account_id=acc.pk, amount=Decimal("20"), idempotency_key="top-up-1")
    from celery import current_app

    from usage.tasks import settle_arrears

    assert "usage.settle_arrears" in current_app.tasks  # the billing app enqueues it by this name
    assert settle_arrears.apply(args=(acc.pk,)).get()["settled"] == 1
    rec.refresh_from_db()
    assert rec.status == "paid" and rec.ledger_entry.amount == Decimal("-5")
    assert_balanced(acc)
