"""Catalog rows and orders for the vehicle-order tests."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import factory

from billing.services import account_credit
from billing.tenancy import personal_account
from orders.vehicle.models import VehicleOrder
from orders.vehicle.placing import place_driver_order, place_plan_order, place_sale_order
from plans.models import Plan, PlanItem


class VehiclePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("plan_id",)

    plan_id = factory.Sequence(lambda n: f"car-{n}")
    name = factory.LazyAttribute(lambda o: o.plan_id)
    plan_type = "vehicle"
    billing_mode = "prepaid"
    cycle = "year"


class PlanItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanItem

    plan = factory.SubFactory(VehiclePlanFactory)
    piid = factory.LazyFunction(uuid.uuid4)
    name = factory.Sequence(lambda n: f"item {n}")
    price = Decimal("1000.00")


def fund(user: Any, amount: str) -> None:
    account_credit(
        account_id=personal_account(user).pk, amount=Decimal(amount), idempotency_key=f"fund-{uuid.uuid4()}"
    )


def make_plan_order(
    user: Any, *, prices: tuple[str, ...] = ("1000.00",), payment: str | None = None, **kw: Any
) -> VehicleOrder:
    plan = VehiclePlanFactory()
    items = [PlanItemFactory(plan=plan, price=Decimal(p)) for p in prices]
    summary = sum((Decimal(p) for p in prices), Decimal(0))
    return place_plan_order(
        owner=user,
        account=personal_account(user),
        vid=str(uuid.uuid4()),
        plans={plan.plan_id: {str(i.piid): Decimal(i.price) for i in items}},
        qid=str(uuid.uuid4()),
        pmid=None,
        service_ratio="0.1",
        summary=summary,
        payment=Decimal(payment) if payment is not None else summary,
        expect_at=kw.pop("expect_at", "2030-01-01T00:00:00+08:00"),
    )


def make_driver_order(user: Any, *, summary: str = "200.00", payment: str | None = None) -> VehicleOrder:
    return place_driver_order(
        owner=user,
        account=personal_account(user),
        vid=str(uuid.uuid4()),
        dids=[str(uuid.uuid4()), str(uuid.uuid4())],
        summary=Decimal(summary),
        payment=Decimal(payment or summary),
    )


def make_sale_order(user: Any, *, prices: tuple[str, ...] = ("300.00", "200.00")) -> VehicleOrder:
    plan = VehiclePlanFactory()
    items = [PlanItemFactory(plan=plan, price=Decimal(p)) for p in prices]
    summary = sum((Decimal(p) for p in prices), Decimal(0))
    return place_sale_order(
        owner=user,
        account=personal_account(user),
        vid=str(uuid.uuid4()),
        qid=str(uuid.uuid4()),
        items={str(i.piid): Decimal(i.price) for i in items},
        summary=summary,
        payment=summary,
    )


def make_order(user: Any, order_type: int) -> VehicleOrder:
    return (make_plan_order, make_driver_order, make_sale_order)[order_type](user)


def plan_order_body() -> dict[str, Any]:
    """A valid ``POST /api/v1/plan-orders`` body over two plans with three items (money as the
    canonical decimal strings and one integer), for the test to spoil one field of."""
    a, b = VehiclePlanFactory(plan_id="car-basic"), VehiclePlanFactory(plan_id="car-plus")
    a1, a2 = PlanItemFactory(plan=a, price=Decimal("1000")), PlanItemFactory(plan=a, price=Decimal("2000"))
    b1 = PlanItemFactory(plan=b, price=Decimal("500"))
    return {
        "vid": str(uuid.uuid4()),
        "plans": {
            "car-basic": {str(a1.piid): "1000.00", str(a2.piid): 2000},
            "car-plus": {str(b1.piid): "500.50"},
        },
        "qid": str(uuid.uuid4()),
        "pmid": None,
        "service_ratio": "0.05",
        "summary": "3500.50",
        "payment": "3400.00",
        "expect_at": "2030-08-01T00:00:00+08:00",
    }
