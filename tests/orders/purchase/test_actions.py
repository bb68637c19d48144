"""Cancel, renew and switch plan: services with a fixed clock (numbers) and the API (codes)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from orders.models import PurchaseOrder, PurchaseOrderEndReason, PurchaseOrderStatus, SubscriptionLine
from orders.purchase.services import (
    purchase_order_cancel,
    purchase_order_create,
    purchase_order_renew,
)
from orders.purchase.switch import purchase_order_modify
from plans.models import BillingMode, Cycle
from tests.orders.purchase.helpers import account_of, assert_ledger, balance, local, make_plan
from usage.models import UsageKind, UsageRecord, UsageStatus

pytestmark = pytest.mark.django_db
MARCH_1 = local(2026, 3, 1)  # a 31-day period: Mar 1 -> Apr 1
SWITCH_AT = local(2026, 3, 11, 12)  # 20.5 days left -> floor 20


def order_on(user, plan_id: str, price: str, funds: str = "100") -> PurchaseOrder:
    account = account_of(user, funds)
    make_plan("vol-50g", "30")
    make_plan("vol-100g", "50")
    make_plan(plan_id, price)
    result = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id=plan_id, at=MARCH_1
    )
    assert result.order is not None
    return result.order


def test_switch_up_charges_new_price_minus_credit(user):
    old = order_on(user, "vol-50g", "30")
    result = purchase_order_modify(order_pk=old.pk, plan_id="vol-100g", actor=user, at=SWITCH_AT)
    # credit = floor(20.5) / round(31) x 30 = 19.354.. -> 19.35 (down to the cent)
    assert result.credit == Decimal("19.35")
    assert result.price == Decimal("50")
    assert result.money == Decimal("30.65")
    assert balance(old.account) == Decimal("100") - 30 - Decimal("30.65")
    old.refresh_from_db()
    assert (old.status, old.end_reason, old.end_time) == (
        PurchaseOrderStatus.ENDED,
        PurchaseOrderEndReason.SWITCHED,
        SWITCH_AT,
    )
    end = UsageRecord.objects.get(order_ref=old.order_id, kind=UsageKind.END)
    assert end.amount == Decimal("-19.35") and end.status == UsageStatus.PAID
    new = result.new
    assert new.switched_from_id == old.pk and new.status == PurchaseOrderStatus.CONSUMING
    assert new.deadline == local(2026, 4, 11, 12)
    sw = UsageRecord.objects.get(order_ref=new.order_id)
    assert (sw.kind, sw.amount) == (UsageKind.SWITCH, Decimal("50"))
    assert sw.ledger_entry_id == end.ledger_entry_id  # one ledger entry for the difference
    assert sw.ledger_entry.amount == Decimal("-30.65")
    assert SubscriptionLine.objects.get(subscription=old.subscription).status == "stopped"
    assert_ledger(old.account)


def test_switch_down_refunds_the_excess(user):
    old = order_on(user, "vol-100g", "50")
    result = purchase_order_modify(order_pk=old.pk, plan_id="vol-50g", actor=user, at=SWITCH_AT)
    # credit = 20/31 x 50 = 32.258.. -> 32.25; new price 30: 2.25 refunded
    assert result.credit == Decimal("32.25")
    assert result.money == Decimal("-2.25")
    assert balance(old.account) == Decimal("100") - 50 + Decimal("2.25")
    entry = LedgerEntry.objects.filter(account=old.account).order_by("-id").first()
    assert entry.kind == "refund" and entry.amount == Decimal("2.25")
    assert_ledger(old.account)


def test_switch_refusals(user, api):
    old = order_on(user, "vol-50g", "30")
    make_plan("cpu-1", "10", plan_type="cpu")
    make_plan("vol-hourly", "1", mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
    for plan_id, code in (("cpu-1", 3310), ("vol-hourly", 3310), ("vol-50g", 3310), ("missing", 3315)):
        r = api.put(f"/usageapi/v1/orders/{old.pk}", {"action": "modify", "plan_id": plan_id}, format="json")
        assert r.json()["code"] == code, (plan_id, r.json())
        assert "plan_id" in r.json()["data"]["errors"]
    r = api.put(f"/usageapi/v1/orders/{old.pk}", {"action": "modify"}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, 3307)
    assert PurchaseOrder.objects.count() == 1
    assert_ledger(old.account)


def test_switch_through_the_api(user, api):
    old = order_on(user, "vol-50g", "30", funds="200")
    r = api.put(
        f"/usageapi/v1/orders/{old.order_id}", {"action": "modify", "plan_id": "vol-100g"}, format="json"
    )
    assert r.status_code == 200, r.json()
    data = r.json()["data"]
    assert data["order"]["plan_id"] == "vol-100g" and data["order"]["status"] == "consuming"
    assert data["old_order"]["status"] == "ended" and "end_time" in data["old_order"]
    assert Decimal(data["money"]) + Decimal(data["credit"]) == Decimal("50")
    assert_ledger(old.account)


def test_cancel_through_the_api_refunds_nothing(user, api):
    old = order_on(user, "vol-50g", "30")
    r = api.put(f"/usageapi/v1/orders/{old.pk}", {"action": "cancel"}, format="json")
    assert r.status_code == 200
    assert r.json()["data"]["order"]["status"] == "ended"
    old.refresh_from_db()
    assert old.status == PurchaseOrderStatus.ENDED and old.end_reason == PurchaseOrderEndReason.CANCELED
    assert balance(old.account) == Decimal("70")
    r = api.put(f"/usageapi/v1/orders/{old.pk}", {"action": "cancel"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, 3318)  # issue 23.3: the origin's "not consuming"
    r = api.put(f"/usageapi/v1/orders/{old.pk}", {"action": "renew"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, 3313)
    r = api.put(f"/usageapi/v1/orders/{old.pk}", {"action": "modify", "plan_id": "vol-100g"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, 3310)
    r = api.put(f"/usageapi/v1/orders/{old.pk}", {"action": "explode"}, format="json")
    assert (r.status_code, r.json()["code"]) == (400, 3307)
    assert list(old.events.values_list("to_status", flat=True)) == [
        PurchaseOrderStatus.PENDING,
        PurchaseOrderStatus.CONSUMING,
        PurchaseOrderStatus.ENDED,
    ]
    assert_ledger(old.account)


def test_admin_cancel_refunds_unused_days(user, staff_user):
    old = order_on(user, "vol-50g", "30")
    order, refund = purchase_order_cancel(
        order_pk=old.pk, actor=staff_user, refund_unused=True, reason="customer left", at=SWITCH_AT
    )
    assert refund == Decimal("19.35")
    assert order.end_reason == PurchaseOrderEndReason.CANCELED_REFUNDED
    assert balance(old.account) == Decimal("100") - 30 + Decimal("19.35")
    rec = UsageRecord.objects.get(order_ref=old.order_id, kind=UsageKind.REFUND)
    assert rec.amount == Decimal("-19.35") and rec.ledger_entry.amount == Decimal("19.35")
    assert order.events.last().actor == staff_user
    assert_ledger(old.account)


def test_manual_renew_charges_next_period_and_moves_deadline(user, api):
    old = order_on(user, "vol-50g", "30")
    result = purchase_order_renew(order_pk=old.pk, actor=user, at=local(2026, 3, 2))
    assert result.charged and result.money == Decimal("30")
    old.refresh_from_db()
    assert old.deadline == local(2026, 5, 1)
    assert balance(old.account) == Decimal("40")
    r = api.put(
        f"/usageapi/v1/orders/{old.pk}", {"action": "renew"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert r.status_code == 200 and r.json()["data"]["money"] == "30.00"
    assert r.json()["data"]["order"]["deadline"].startswith("2026-05-31")
    # the same key replays the answer and moves no money
    r2 = api.put(
        f"/usageapi/v1/orders/{old.pk}", {"action": "renew"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert r2.json() == r.json()
    assert balance(old.account) == Decimal("10")
    r3 = api.put(f"/usageapi/v1/orders/{old.pk}", {"action": "renew"}, format="json")
    assert (r3.status_code, r3.json()["code"]) == (400, 3316)
    assert balance(old.account) == Decimal("10")
    assert_ledger(old.account)
