"""Demo purchase orders for ``manage.py load_demo`` (idempotent).

Two prepaid monthly volume orders for the ``demo`` user in ``cn-north-1`` on the plans demo's
``vol-50g`` and ``vol-100g`` (resource names ``demo-data`` and ``demo-logs``), plus one ended order
to show history. Without the plans it says so and skips; orders already there are left alone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model

from billing.services import account_credit, account_get_or_create
from config.exceptions import DomainError
from orders.purchase.models import PurchaseOrder, PurchaseOrderStatus
from orders.purchase.services import purchase_order_cancel, purchase_order_create
from plans.models import Plan

NAMESPACE = "demo"
REGION = "cn-north-1"
ORDERS = (("vol-50g", "demo-data", 1), ("vol-100g", "demo-logs", 2), ("vol-50g", "demo-old", 1))


def load(out: Any) -> None:
    missing = [p for p in ("vol-50g", "vol-100g") if not Plan.objects.filter(plan_id=p).exists()]
    if missing:
        out.write(f"orders: purchase demo skipped (plans {', '.join(missing)} not in the catalog)\n")
        return
    user, _ = get_user_model().objects.get_or_create(username=NAMESPACE)
    account = account_get_or_create(namespace=NAMESPACE, member=user)
    account_credit(
        account_id=account.pk,
        amount=Decimal("500"),
        idempotency_key="demo:purchase-orders",
        subject=("demo", "purchase-orders"),
        memo="demo purchases",
    )
    made = 0
    for plan_id, resource_name, qty in ORDERS:
        if PurchaseOrder.objects.filter(account=account, resource_name=resource_name).exists():
            continue
        try:
            result = purchase_order_create(
                account=account,
                creator=user,
                region=REGION,
                plan_id=plan_id,
                quantities=qty,
                parameters={"resource_name": resource_name},
            )
        except DomainError as exc:
            out.write(f"orders: demo purchase order {resource_name} not created: {exc.message}\n")
            continue
        made += 1
        if resource_name == "demo-old" and result.order is not None:
            purchase_order_cancel(order_pk=result.order.pk, actor=user, reason="demo")
    running = PurchaseOrder.objects.filter(account=account, status=PurchaseOrderStatus.CONSUMING).count()
    out.write(f"orders: purchase demo: {made} new order(s), {running} consuming for {NAMESPACE}\n")
