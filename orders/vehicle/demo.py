"""Demo vehicle orders for ``manage.py load_demo`` (idempotent): three orders for user ``demo`` on
plan ``car-basic`` (a plan order paid and underwritten, a driver order, a canceled sale order).
Skipped when the user or the plan is missing; a second run finds the demo vehicle's orders and
does nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from billing.tenancy import personal_account
from config.exceptions import DomainError
from orders.vehicle.models import VehicleOrder
from orders.vehicle.placing import place_driver_order, place_plan_order, place_sale_order
from orders.vehicle.services import vehicle_order_cancel, vehicle_order_pay, vehicle_order_underwrite
from plans.models import Plan

DEMO_USER = "demo"
DEMO_STAFF = "finance"
DEMO_PLAN = "car-basic"
DEMO_VID = uuid.uuid5(uuid.NAMESPACE_URL, "https://tally.example/vehicles/demo-1")


def _demo_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://tally.example/vehicle-demo/{name}"))


def load(out: Any) -> None:
    User = get_user_model()  # noqa: N806
    user = User.objects.filter(username=DEMO_USER).first()
    plan = Plan.objects.filter(plan_id=DEMO_PLAN).prefetch_related("items").first()
    if user is None or plan is None or not plan.items.exists():
        out.write(
            f"orders: vehicle demo skipped (needs user {DEMO_USER!r} and plan {DEMO_PLAN!r} with items)\n"
        )
        return
    if VehicleOrder.objects.filter(owner=user, vid=DEMO_VID).exists():
        out.write("orders: vehicle demo orders already present\n")
        return
    staff = User.objects.filter(username=DEMO_STAFF, is_staff=True).first()
    account = personal_account(user)
    items = list(plan.items.all())
    prices = {str(i.piid): i.price for i in items}
    total = sum(prices.values())
    plan_order = place_plan_order(
        owner=user,
        account=account,
        vid=DEMO_VID,
        plans={plan.plan_id: prices},
        qid=_demo_id("quotation-1"),
        pmid=None,
        service_ratio="0.05",
        summary=total,
        payment=total,
        expect_at=(timezone.now() + timedelta(days=7)).isoformat(),
    )
    try:
        vehicle_order_pay(order_id=plan_order.order_id, actor=user)
        if staff is not None:
            vehicle_order_underwrite(order_id=plan_order.order_id, actor=staff, result="approved")
    except DomainError as exc:
        out.write(f"orders: vehicle demo plan order left unpaid: {exc.message}\n")
    place_driver_order(
        owner=user,
        account=account,
        vid=DEMO_VID,
        dids=[_demo_id("driver-1"), _demo_id("driver-2")],
        summary="200.00",
        payment="200.00",
    )
    first = items[0]
    sale = place_sale_order(
        owner=user,
        account=account,
        vid=DEMO_VID,
        qid=_demo_id("quotation-2"),
        items={str(first.piid): first.price},
        summary=first.price,
        payment=first.price,
    )
    vehicle_order_cancel(order_id=sale.order_id, actor=user, reason="demo: changed my mind")
    out.write(f"orders: vehicle demo orders placed ({plan_order.order_no}, 2 more)\n")
