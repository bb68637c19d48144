"""The back office: list with filters and search, inlines read-only, actions through the services."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from orders.vehicle.models import VehicleOrder, VehicleOrderEvent
from tests.orders.vehicle.factories import fund, make_driver_order, make_plan_order
from tests.orders.vehicle.helpers import balance

pytestmark = pytest.mark.django_db

URL = "/admin/orders/vehicleorder/"


@pytest.fixture
def admin_client(make_user: Any) -> Client:
    c = Client()
    c.force_login(make_user("root", superuser=True))
    return c


def test_changelist_filters_search_and_detail(admin_client: Client, user: Any) -> None:
    plan_order = make_plan_order(user)
    driver = make_driver_order(user)
    res = admin_client.get(URL)
    assert res.status_code == 200
    assert plan_order.order_no in res.content.decode() and driver.order_no in res.content.decode()
    res = admin_client.get(URL, {"type__exact": "1"})
    assert driver.order_no in res.content.decode() and plan_order.order_no not in res.content.decode()
    res = admin_client.get(URL, {"q": str(plan_order.vid)})
    assert plan_order.order_no in res.content.decode() and driver.order_no not in res.content.decode()
    res = admin_client.get(URL, {"q": driver.order_no})
    assert driver.order_no in res.content.decode() and plan_order.order_no not in res.content.decode()
    res = admin_client.get(URL, {"state_code__exact": "1", "created_at__year": "2026"})
    assert res.status_code == 200
    detail = admin_client.get(f"{URL}{plan_order.pk}/change/")
    assert detail.status_code == 200
    assert "placed" in detail.content.decode()


def test_cancel_action_refunds_and_writes_event(admin_client: Client, user: Any) -> None:
    fund(user, "500")
    order = make_driver_order(user, summary="120.00")
    from orders.vehicle.services import vehicle_order_pay

    vehicle_order_pay(order_id=order.order_id, actor=user)
    res = admin_client.post(URL, {"action": "cancel_vehicle_orders", "_selected_action": [order.pk]})
    assert res.status_code == 200 and b"reason" in res.content.lower()  # asks for a reason first
    order.refresh_from_db()
    assert order.state_code == 2
    res = admin_client.post(
        URL,
        {
            "action": "cancel_vehicle_orders",
            "_selected_action": [order.pk],
            "tally_confirm": "1",
            "reason": "admin",
        },
    )
    assert res.status_code == 302
    order.refresh_from_db()
    assert order.state_code == 8
    assert balance(order.account_id) == Decimal("500.0000")
    event = VehicleOrderEvent.objects.get(order=order, kind="cancel")
    assert event.actor is not None and event.actor.username == "root"
    assert event.data["reason"] == "admin"
    assert VehicleOrder.objects.count() == 1


def test_underwrite_action_keeps_the_reason_in_the_event(admin_client: Client, user: Any) -> None:
    from django.contrib.admin.models import LogEntry

    from orders.vehicle.services import vehicle_order_pay

    fund(user, "5000")
    approve, reject = make_plan_order(user), make_plan_order(user)
    for order in (approve, reject):
        vehicle_order_pay(order_id=order.order_id, actor=user)
    action = {"action": "underwrite_vehicle_orders", "tally_confirm": "1"}
    res = admin_client.post(URL, {**action, "_selected_action": [approve.pk], "reason": "photos checked"})
    assert res.status_code == 302
    res = admin_client.post(
        URL, {**action, "_selected_action": [reject.pk], "reason": "salvage title", "reject": "on"}
    )
    assert res.status_code == 302
    approve.refresh_from_db()
    reject.refresh_from_db()
    assert approve.state_code == 3 and reject.state_code == 8
    event = VehicleOrderEvent.objects.get(order=approve, kind="underwrite")
    assert event.data == {"result": "approved", "reason": "photos checked", **_dates(event.data)}
    assert event.actor is not None and event.actor.username == "root"
    event = VehicleOrderEvent.objects.get(order=reject, kind="cancel")
    assert event.data["result"] == "rejected" and event.data["reason"] == "salvage title"
    assert balance(reject.account_id) == Decimal("4000.0000")  # the rejected order refunded in full
    assert LogEntry.objects.filter(
        object_id=str(approve.pk), change_message__contains="photos checked"
    ).exists()


def _dates(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data[k] for k in ("start_at", "stop_at")}
