from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from config.exceptions import DomainError, InsufficientFunds
from orders.models import (
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderStatus,
    Subscription,
    SubscriptionLine,
)
from orders.purchase.services import purchase_order_create
from plans.models import BillingMode, Cycle
from tests.orders.purchase.helpers import T0, account_of, assert_ledger, balance, local, make_plan
from usage.models import UsageKind, UsageRecord, UsageStatus

pytestmark = pytest.mark.django_db


def counts() -> tuple[int, ...]:
    return (
        PurchaseOrder.objects.count(),
        Subscription.objects.count(),
        SubscriptionLine.objects.count(),
        UsageRecord.objects.count(),
        LedgerEntry.objects.count(),
        PurchaseOrderEvent.objects.count(),
    )


def test_drytry_returns_the_price_and_writes_nothing(api, user):
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    before = counts()
    r = api.post(
        "/usageapi/v1/orders?drytry=1",
        {"region": "cn-north-1", "plan_id": "vol-50g", "quantities": 2},
        format="json",
    )
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["code"] == 0
    assert body["data"]["money"] == "60.00"
    assert counts() == before
    assert balance(account) == Decimal("100")
    assert_ledger(account)


def test_create_charges_exactly_the_first_period(api, user):
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    r = api.post(
        "/usageapi/v1/orders",
        {"plan_id": "vol-50g", "quantities": 2, "parameters": {"resource_name": "pvc-1"}},
        format="json",
        QUERY_STRING="region=cn-north-1",
    )
    assert r.status_code == 201, r.json()
    data = r.json()["data"]
    assert data["money"] == "60.00"
    order = data["order"]
    assert order["status"] == "consuming"
    assert order["resource_name"] == "pvc-1"
    assert order["plan_type"] == "volume"
    assert order["namespace"] == "alice"
    assert order["creator"] == "alice"
    assert order["order_id"].startswith("PO")
    assert "end_time" not in order
    assert balance(account) == Decimal("40")
    po = PurchaseOrder.objects.get(pk=order["id"])
    rec = UsageRecord.objects.get(order_ref=po.order_id)
    assert (rec.kind, rec.status, rec.amount, rec.quantity) == (
        UsageKind.NEW,
        UsageStatus.PAID,
        Decimal("60"),
        2,
    )
    assert rec.period_start == po.start_time and rec.period_end == po.deadline
    assert list(po.events.values_list("from_status", "to_status")) == [
        (None, PurchaseOrderStatus.PENDING),
        (PurchaseOrderStatus.PENDING, PurchaseOrderStatus.CONSUMING),
    ]
    assert_ledger(account)


def test_short_balance_is_3316_and_leaves_nothing(api, user):
    make_plan("vol-50g", "30")
    account = account_of(user, "29.99")
    before = counts()
    r = api.post("/usageapi/v1/orders", {"region": "cn-north-1", "plan_id": "vol-50g"}, format="json")
    assert r.status_code == 400
    assert r.json()["code"] == 3316
    assert counts() == before
    assert balance(account) == Decimal("29.99")
    assert_ledger(account)


def test_duplicate_resource_name_is_3308(api, user):
    make_plan("vol-50g", "30")
    make_plan("vol-100g", "50")
    make_plan("cpu-1", "10", plan_type="cpu")
    account = account_of(user, "500")
    body = {"region": "cn-north-1", "plan_id": "vol-50g", "parameters": {"resource_name": "data"}}
    assert api.post("/usageapi/v1/orders", body, format="json").status_code == 201
    r = api.post("/usageapi/v1/orders", {**body, "plan_id": "vol-100g"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == 3308
    # another plan type, or a blank resource name, is fine
    assert api.post("/usageapi/v1/orders", {**body, "plan_id": "cpu-1"}, format="json").status_code == 201
    blank = {"region": "cn-north-1", "plan_id": "vol-50g"}
    assert api.post("/usageapi/v1/orders", blank, format="json").status_code == 201
    assert api.post("/usageapi/v1/orders", blank, format="json").status_code == 201
    assert PurchaseOrder.objects.count() == 4
    assert_ledger(account)


def test_validation_reports_every_bad_field_3307(api, user):
    account_of(user, "10")
    r = api.post(
        "/usageapi/v1/orders",
        {"plan_id": "", "quantities": 0, "parameters": {"resource_name": "Bad_Name"}},
        format="json",
    )
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 3307
    assert set(body["data"]["errors"]) == {"region", "plan_id", "quantities", "parameters.resource_name"}
    r = api.post("/usageapi/v1/orders?drytry=2", {"region": "r", "plan_id": "x"}, format="json")
    assert r.json()["code"] == 3307 and "drytry" in r.json()["data"]["errors"]
    too_long = "a" * 31
    r = api.post(
        "/usageapi/v1/orders",
        {"region": "r", "plan_id": "x", "parameters": {"resource_name": too_long}},
        format="json",
    )
    assert r.json()["code"] == 3307


def test_plan_problems_are_3315(api, user):
    make_plan("vol-50g", "30")
    make_plan("old", "30", status="retired")
    make_plan("east-only", "30", region="cn-east-1")
    account_of(user, "100")
    for plan_id, status in (("nope", 404), ("old", 400), ("east-only", 400)):
        r = api.post("/usageapi/v1/orders", {"region": "cn-north-1", "plan_id": plan_id}, format="json")
        assert (r.status_code, r.json()["code"]) == (status, 3315), plan_id
        assert "plan_id" in r.json()["data"]["errors"]
    assert PurchaseOrder.objects.count() == 0


def test_postpaid_is_consuming_at_once_and_hourly_charges_one_hour(user):
    account = account_of(user, "10")
    post = make_plan("bw-post", "0.5", mode=BillingMode.POSTPAID, cycle=Cycle.MONTH)
    hourly = make_plan("cpu-hour", "0.25", mode=BillingMode.HOURLY, cycle=Cycle.HOUR, plan_type="cpu")
    r1 = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id=post.plan_id, at=T0
    )
    assert r1.money == 0 and r1.order.status == PurchaseOrderStatus.CONSUMING
    line = SubscriptionLine.objects.get(subscription=r1.order.subscription)
    assert line.next_run_at == local(2026, 4, 10, 12)
    r2 = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id=hourly.plan_id, quantities=4, at=T0
    )
    assert r2.money == Decimal("1.0000")
    rec = UsageRecord.objects.get(order_ref=r2.order.order_id)
    assert rec.kind == UsageKind.HOURLY and rec.period_end == local(2026, 3, 10, 13)
    line2 = SubscriptionLine.objects.get(subscription=r2.order.subscription)
    assert line2.next_run_at == rec.period_end
    assert balance(account) == Decimal("9")
    assert_ledger(account)


def test_service_raises_domain_errors(user):
    account = account_of(user, "1")
    make_plan("vol-50g", "30")
    with pytest.raises(InsufficientFunds):
        purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id="vol-50g", at=T0)
    with pytest.raises(DomainError):
        purchase_order_create(account=account, creator=user, region="", plan_id="vol-50g", at=T0)
    assert PurchaseOrder.objects.count() == 0


def test_hourly_deadline_follows_the_line(api, user):
    account = account_of(user, "10")
    make_plan("cpu-hour", "0.25", mode=BillingMode.HOURLY, cycle=Cycle.HOUR, plan_type="cpu")
    order = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="cpu-hour"
    ).order
    later = order.deadline + timedelta(hours=5)
    SubscriptionLine.objects.filter(subscription=order.subscription).update(
        paid_until=later
    )  # the jobs runner
    got = api.get(f"/usageapi/v1/orders/{order.pk}").json()["data"]["order"]["deadline"]
    listed = api.get("/usageapi/v1/orders").json()["data"]["results"][0]["deadline"]
    assert got == listed == later.isoformat().replace("+00:00", "Z")


def test_cancel_postpaid_bills_the_metered_partial_cycle(user):
    from orders.purchase.services import purchase_order_cancel
    from usage.models import MeterEvent

    account = account_of(user, "10")
    make_plan("bw-post", "0.5", mode=BillingMode.POSTPAID, cycle=Cycle.MONTH)
    order = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="bw-post", at=T0
    ).order
    line = SubscriptionLine.objects.get(subscription=order.subscription)
    for i, qty in enumerate(("3", "4.5")):
        MeterEvent.objects.create(
            account=account, event_id=f"e{i}", line_id=line.pk, instance_ref=order.order_id,
            quantity=Decimal(qty), timestamp=T0 + timedelta(days=i + 1),
        )  # fmt: skip
    purchase_order_cancel(order_pk=order.pk, actor=user, at=T0 + timedelta(days=5))
    rec = UsageRecord.objects.get(order_ref=order.order_id)
    assert (rec.kind, rec.quantity, rec.amount, rec.status) == (
        UsageKind.USAGE,
        Decimal("7.5"),
        Decimal("3.75"),
        UsageStatus.PAID,
    )
    assert rec.period_end == T0 + timedelta(days=5)
    assert balance(account) == Decimal("6.25")
    line.refresh_from_db()
    assert line.status == "stopped" and line.next_run_at is None
    assert_ledger(account)
