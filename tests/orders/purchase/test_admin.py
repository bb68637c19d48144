from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from orders.models import PurchaseOrderEndReason, PurchaseOrderStatus
from orders.purchase.services import purchase_order_create
from tests.orders.purchase.helpers import account_of, assert_ledger, balance, make_plan
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


def test_admin_lists_and_cancels_with_refund_and_reason(user, make_user):
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    order = purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id="vol-50g").order
    boss = make_user("boss", superuser=True)
    c = Client()
    c.force_login(boss)
    assert c.get("/admin/orders/purchaseorder/").status_code == 200
    assert c.get(f"/admin/orders/purchaseorder/{order.pk}/change/").status_code == 200
    assert c.get("/admin/usage/usagerecord/").status_code == 200
    assert c.get("/admin/usage/meterevent/").status_code == 200
    url = "/admin/orders/purchaseorder/"
    r = c.post(url, {"action": "cancel_purchase_orders", "_selected_action": [order.pk]})
    assert r.status_code == 200 and b"Reason" in r.content  # asks for a reason first
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.CONSUMING
    r = c.post(
        url,
        {
            "action": "cancel_purchase_orders",
            "_selected_action": [order.pk],
            "tally_confirm": "1",
            "reason": "moved",
            "refund_unused": "on",
        },
    )
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.ENDED
    assert order.end_reason == PurchaseOrderEndReason.CANCELED_REFUNDED
    refund = -UsageRecord.objects.get(order_ref=order.order_id, kind="refund").amount
    assert Decimal("28") < refund <= Decimal("30")  # most of a fresh month is unused
    assert balance(account) == Decimal("70") + refund
    assert order.events.last().data["note"] == "moved"
    assert_ledger(account)


def test_admin_renew_now(user, make_user):
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    order = purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id="vol-50g").order
    boss = make_user("boss", superuser=True)
    c = Client()
    c.force_login(boss)
    r = c.post(
        "/admin/orders/purchaseorder/",
        {
            "action": "renew_purchase_orders",
            "_selected_action": [order.pk],
            "tally_confirm": "1",
            "reason": "asked",
        },
    )
    assert r.status_code == 302
    assert balance(account) == Decimal("40")
    assert_ledger(account)
