"""``drytry=1`` on vehicle orders: pay and cancel answer what they would charge or refund (the
prorated refund is computed by the same ``cancel_refund`` as the cancel) and write nothing; placing
and underwriting have no preview and refuse the flag (3307) instead of placing or refunding."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from billing.models import LedgerKind
from config.clock import local_tz
from orders.vehicle.models import VehicleOrder, VehicleOrderState
from orders.vehicle.services import vehicle_order_pay
from tests.orders.nothing_written import nothing_written
from tests.orders.vehicle.factories import PlanItemFactory, VehiclePlanFactory, fund, make_plan_order
from tests.orders.vehicle.helpers import assert_balance_matches_ledger, balance, ledger

pytestmark = pytest.mark.django_db
TZ = local_tz()
NOW = datetime(2026, 3, 1, 12, tzinfo=TZ)


def test_pay_preview_writes_nothing_then_pay_charges_it(api: Any, user: Any) -> None:
    fund(user, "1500")
    order = make_plan_order(user, prices=("1000.00", "250.50"), payment="1200.00")
    with nothing_written():
        r = api.post(f"/api/v1/orders/{order.order_id}/pay?drytry=1", HTTP_IDEMPOTENCY_KEY="p1")
    assert r.status_code == 200, r.content
    data = r.json()["data"]
    assert (data["drytry"], data["charge"], data["refund"], data["to_state_code"]) == (
        True,
        "1200.0000",
        "0.0000",
        VehicleOrderState.PAID,
    )
    r = api.post(f"/api/v1/orders/{order.order_id}/pay", HTTP_IDEMPOTENCY_KEY="p1")
    assert r.status_code == 200 and r.json()["data"]["state_code"] == VehicleOrderState.PAID
    assert balance(order.account_id) == Decimal("1500") - Decimal(data["charge"])
    with nothing_written():  # paid: the preview refuses as the pay does
        again = api.post(f"/api/v1/orders/{order.order_id}/pay?drytry=1")
    real = api.post(f"/api/v1/orders/{order.order_id}/pay")
    assert again.status_code == real.status_code == 409
    assert again.json()["code"] == real.json()["code"] == 3502


@pytest.mark.parametrize("in_force", [False, True])
def test_cancel_preview_is_the_refund_of_the_cancel(api: Any, user: Any, in_force: bool) -> None:
    fund(user, "1000")
    order = make_plan_order(user, prices=("1000.00",))
    vehicle_order_pay(order_id=order.order_id, actor=user)
    if in_force:
        VehicleOrder.objects.filter(pk=order.pk).update(
            state_code=VehicleOrderState.IN_FORCE,
            state="in force",
            start_at=datetime(2026, 1, 1, tzinfo=TZ),
            stop_at=datetime(2027, 1, 1, tzinfo=TZ),
        )
    with mock.patch("django.utils.timezone.now", return_value=NOW):  # one local day for both calls
        with nothing_written():
            r = api.post(f"/api/v1/orders/{order.order_id}/cancel?drytry=1", {"reason": "x"}, format="json")
        assert r.status_code == 200, r.content
        preview = r.json()["data"]
        done = api.post(f"/api/v1/orders/{order.order_id}/cancel", {"reason": "x"}, format="json")
    assert done.status_code == 200 and done.json()["data"]["state_code"] == preview["to_state_code"]
    refunds = [e.amount for e in ledger(order.account_id, kind=LedgerKind.REFUND)]
    assert refunds == [Decimal(preview["refund"])]
    if in_force:
        assert (preview["rule"], preview["refund"], preview["used_days"]) == ("prorated", "835.6100", 60)
        assert preview["to_state_code"] == VehicleOrderState.VOIDED
    else:
        assert (preview["rule"], preview["refund"]) == ("full", "1000.0000")
    assert_balance_matches_ledger(order.account_id)


def test_placing_and_underwriting_refuse_drytry(api: Any, staff_api: Any, user: Any) -> None:
    """A preview of a placement would still take an order number: it is refused, nothing moves."""
    plan = VehiclePlanFactory(plan_id="car-basic")
    item = PlanItemFactory(plan=plan, price=Decimal("1000"))
    body = {
        "vid": str(uuid.uuid4()),
        "plans": {"car-basic": {str(item.piid): "1000"}},
        "qid": str(uuid.uuid4()),
        "service_ratio": "0.1",
        "summary": "1000",
        "payment": "1000",
        "expect_at": (NOW + timedelta(days=30)).isoformat(),
    }
    fund(user, "1000")
    paid = make_plan_order(user)
    vehicle_order_pay(order_id=paid.order_id, actor=user)
    with nothing_written():
        for client, path, data in (
            (api, "/api/v1/plan-orders?drytry=1", body),
            (api, "/api/v1/plan-orders", {**body, "drytry": True}),
            (staff_api, f"/api/v1/orders/{paid.order_id}/underwrite?drytry=1", {"result": "rejected"}),
        ):
            r = client.post(path, data, format="json")
            assert (r.status_code, r.json()["code"]) == (400, 3307), (path, r.content)
            assert "drytry" in r.json()["data"]["errors"]
    assert api.post("/api/v1/plan-orders", body, format="json").status_code == 201


def test_bad_drytry_on_pay_is_3307(api: Any, user: Any) -> None:
    order = make_plan_order(user)
    for query in ("drytry=2", "dry_run=nope"):
        with nothing_written():
            r = api.post(f"/api/v1/orders/{order.order_id}/pay?{query}")
        assert (r.status_code, r.json()["code"]) == (400, 3307), query
