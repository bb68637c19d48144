"""The demo loader is idempotent and skips cleanly when its plan is missing."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest

from orders.vehicle import demo
from orders.vehicle.models import VehicleOrder
from tests.orders.vehicle.factories import PlanItemFactory, VehiclePlanFactory, fund

pytestmark = pytest.mark.django_db


def test_demo_skips_without_plan(make_user: Any) -> None:
    make_user("demo")
    out = io.StringIO()
    demo.load(out)
    assert "skipped" in out.getvalue()
    assert VehicleOrder.objects.count() == 0


def test_demo_is_idempotent(make_user: Any) -> None:
    user = make_user("demo")
    make_user("finance", staff=True)
    fund(user, "10000")
    plan = VehiclePlanFactory(plan_id="car-basic")
    PlanItemFactory(plan=plan, price=Decimal("1000.00"))
    PlanItemFactory(plan=plan, price=Decimal("300.00"))
    demo.load(io.StringIO())
    demo.load(io.StringIO())
    orders = VehicleOrder.objects.filter(owner=user).order_by("id")
    assert [(o.type, o.state_code) for o in orders] == [(0, 3), (1, 1), (2, 7)]
