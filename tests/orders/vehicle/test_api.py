"""The HTTP contract: placing (with every violation reported), list/detail/events, pay with an
Idempotency-Key, cancel, underwrite (staff), and tenant isolation."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from billing.models import LedgerEntry, LedgerKind
from billing.tenancy import personal_account
from orders.vehicle.models import VehicleOrder, VehicleOrderEvent, VehicleOrderItem
from tests.orders.vehicle.factories import (
    PlanItemFactory,
    VehiclePlanFactory,
    fund,
    make_driver_order,
    make_plan_order,
    make_sale_order,
    plan_order_body,
)
from tests.orders.vehicle.helpers import assert_balance_matches_ledger, balance

pytestmark = pytest.mark.django_db


def _u() -> str:
    return str(uuid.uuid4())


def test_place_plan_order(api: Any, user: Any) -> None:
    body = plan_order_body()
    res = api.post("/api/v1/plan-orders", body, format="json")
    assert res.status_code == 201, res.json()
    data = res.json()["data"]
    order = VehicleOrder.objects.get(order_id=data["order_id"])
    assert data["order_no"] == order.order_no and order.order_no.startswith("V")
    assert (order.type, order.state_code, order.owner_id) == (0, 1, user.pk)
    assert order.summary == Decimal("3500.50") and order.payment == Decimal("3400.00")
    assert order.service_ratio == Decimal("0.05") and str(order.vid) == body["vid"]
    items = VehicleOrderItem.objects.filter(order=order)
    assert sorted(str(i.price) for i in items) == ["1000.0000", "2000.0000", "500.5000"]
    assert list(VehicleOrderEvent.objects.filter(order=order).values_list("kind", "to_state")) == [
        ("placed", 1)
    ]

    detail = api.get(f"/api/v1/orders/{order.order_id}").json()["data"]
    assert detail["state_code"] == 1 and detail["state"] == "created" and detail["type"] == 0
    assert detail["plans"]["car-plus"] == {body["plans"]["car-plus"].popitem()[0]: "500.5000"}
    assert len(detail["items"]) == 3 and detail["qid"] == body["qid"] and detail["expect_at"]


def test_place_driver_and_sale_orders(api: Any) -> None:
    dids = [_u(), _u()]
    res = api.post(
        "/api/v1/driver-orders", {"vid": _u(), "dids": dids, "summary": 200, "payment": "150"}, format="json"
    )
    assert res.status_code == 201, res.json()
    detail = api.get(f"/api/v1/orders/{res.json()['data']['order_id']}").json()["data"]
    assert detail["type"] == 1 and detail["dids"] == dids and detail["items"] == []

    plan = VehiclePlanFactory(plan_id="car-sale")
    i1, i2 = PlanItemFactory(plan=plan), PlanItemFactory(plan=plan)
    body = {
        "vid": _u(),
        "qid": _u(),
        "items": {str(i1.piid): "10", str(i2.piid): "20"},
        "summary": "30",
        "payment": 30,
    }
    res = api.post("/api/v1/sale-orders", body, format="json")
    assert res.status_code == 201, res.json()
    detail = api.get(f"/api/v1/orders/{res.json()['data']['order_id']}").json()["data"]
    assert detail["type"] == 2 and detail["plan_id"] == "car-sale" and len(detail["items"]) == 2


def test_every_violation_is_reported_at_once(api: Any) -> None:
    body = plan_order_body()
    other = VehiclePlanFactory(plan_id="car-other")
    foreign = PlanItemFactory(plan=other)
    basic = body["plans"]["car-basic"]
    first_piid = next(iter(basic))
    basic[first_piid] = "-1"
    basic[str(foreign.piid)] = "5"
    basic["not-a-uuid"] = "1"
    basic[_u()] = "1"  # unknown plan item
    body["plans"]["no-such-plan"] = {_u(): "1"}
    body.update(
        vid="nope", qid=None, pmid="bad", service_ratio="2", summary="10", payment="20", expect_at="tomorrow"
    )
    count = VehicleOrder.objects.count()
    res = api.post("/api/v1/plan-orders", body, format="json")
    assert res.status_code == 400
    out = res.json()
    assert out["code"] == 3307
    errors = out["data"]["errors"]
    assert errors["vid"] == ["must be a UUID"]
    assert errors["qid"] == ["required"]
    assert errors["pmid"] == ["must be a UUID"]
    assert errors["service_ratio"] == ["must be between 0 and 1"]
    assert errors["expect_at"] == ["must be an ISO 8601 date-time"]
    assert errors["payment"] == ["must be <= summary (10.0000)"]
    assert errors[f"plans.car-basic.{first_piid}"] == ["must be >= 0"]
    assert errors[f"plans.car-basic.{foreign.piid}"] == ["plan item belongs to plan car-other, not car-basic"]
    assert errors["plans.car-basic.not-a-uuid"] == ["must be a UUID"]
    assert "plans.no-such-plan" in errors
    assert sum("unknown plan item" in r for r in errors.values()) == 2
    assert "vid: must be a UUID" in out["msg"] and "qid: required" in out["msg"]
    assert VehicleOrder.objects.count() == count


def test_summary_must_equal_item_sum_and_sale_items_one_plan(api: Any) -> None:
    a, b = VehiclePlanFactory(), VehiclePlanFactory()
    ia, ib = PlanItemFactory(plan=a), PlanItemFactory(plan=b)
    body = {
        "vid": _u(),
        "qid": _u(),
        "items": {str(ia.piid): "1", str(ib.piid): "2"},
        "summary": "4",
        "payment": "1",
    }
    errors = api.post("/api/v1/sale-orders", body, format="json").json()["data"]["errors"]
    assert errors["summary"] == ["must equal the sum of the item prices (3.0000)"]
    assert errors["items"][0].startswith("all items must belong to one plan")
    res = api.post(
        "/api/v1/driver-orders", {"vid": _u(), "dids": ["x", _u()], "payment": "abc"}, format="json"
    )
    errors = res.json()["data"]["errors"]
    assert set(errors) == {"dids[0]", "summary", "payment"}


def test_pay_twice_with_the_same_idempotency_key_charges_once(api: Any, user: Any) -> None:
    fund(user, "5000")
    order = make_plan_order(user, prices=("1200.00",))
    url = f"/api/v1/orders/{order.order_id}/pay"
    first = api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    second = api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert first.json()["data"]["state_code"] == 2
    charges = LedgerEntry.objects.filter(account_id=order.account_id, kind=LedgerKind.CHARGE)
    assert [c.amount for c in charges] == [Decimal("-1200.0000")]
    assert balance(order.account_id) == Decimal("3800.0000")
    # Another key: the state machine refuses, naming the state; still one charge.
    third = api.post(url, format="json", HTTP_IDEMPOTENCY_KEY="pay-2")
    assert third.status_code == 409
    assert third.json()["code"] == 3502 and "is paid (2)" in third.json()["msg"]
    assert charges.count() == 1
    assert_balance_matches_ledger(order.account_id)


def test_pay_without_funds_is_3503(api: Any, user: Any) -> None:
    order = make_driver_order(user, summary="50.00")
    res = api.post(f"/api/v1/orders/{order.order_id}/pay", format="json")
    assert res.status_code == 400 and res.json()["code"] == 3503
    order.refresh_from_db()
    assert order.state_code == 1


def test_cancel_and_events_endpoint(api: Any, user: Any) -> None:
    fund(user, "300")
    order = make_sale_order(user, prices=("100.00", "50.00"))
    api.post(f"/api/v1/orders/{order.order_id}/pay", format="json")
    res = api.post(f"/api/v1/orders/{order.order_id}/cancel", {"reason": "sold the car"}, format="json")
    assert res.status_code == 200 and res.json()["data"]["state_code"] == 8
    assert balance(order.account_id) == Decimal("300.0000")
    events = api.get(f"/api/v1/orders/{order.order_id}/events").json()["data"]
    assert events["total"] == 3
    assert [(e["kind"], e["from_state"], e["to_state"]) for e in events["results"]] == [
        ("placed", None, 1),
        ("pay", 1, 2),
        ("cancel", 2, 8),
    ]
    assert events["results"][2]["data"]["reason"] == "sold the car"
    assert events["results"][2]["data"]["refund"] == "150.0000"
    assert events["results"][2]["actor"] == user.username
    again = api.post(f"/api/v1/orders/{order.order_id}/cancel", {}, format="json")
    assert again.status_code == 409 and "canceled after payment (8)" in again.json()["msg"]


def test_underwrite_is_staff_only(api: Any, staff_api: Any, user: Any) -> None:
    fund(user, "2000")
    order = make_plan_order(user)
    api.post(f"/api/v1/orders/{order.order_id}/pay", format="json")
    url = f"/api/v1/orders/{order.order_id}/underwrite"
    denied = api.post(url, {"result": "approved"}, format="json")
    assert denied.status_code == 403 and denied.json()["code"] == 3306
    bad = staff_api.post(url, {"result": "maybe"}, format="json")
    assert bad.status_code == 400 and "result" in bad.json()["data"]["errors"]
    ok = staff_api.post(url, {"result": "approved"}, format="json")
    assert ok.status_code == 200
    data = ok.json()["data"]
    assert data["state_code"] == 3 and data["state"] == "underwritten"
    assert data["start_at"].startswith("2029-12-31T16:00:00") and data["stop_at"].startswith(
        "2030-12-31T16:00:00"
    )


def test_list_filters_and_pagination(api: Any, user: Any, make_user: Any, client_for: Any) -> None:
    plan_order = make_plan_order(user)
    driver = make_driver_order(user)
    sale = make_sale_order(user)
    make_driver_order(make_user("bob"))
    res = api.get("/api/v1/orders").json()["data"]
    assert res["total"] == 3
    # Newest updated first.
    assert [r["order_id"] for r in res["results"]] == [
        str(sale.order_id),
        str(driver.order_id),
        str(plan_order.order_id),
    ]
    VehicleOrder.objects.filter(pk=plan_order.pk).update(state_code=7, state="canceled")
    VehicleOrder.objects.get(pk=plan_order.pk).save()  # bump updated_at
    res = api.get("/api/v1/orders?offset=0&limit=1").json()["data"]
    assert res["total"] == 3 and [r["order_id"] for r in res["results"]] == [str(plan_order.order_id)]
    res = api.get("/api/v1/orders?offset=1&limit=5").json()["data"]
    assert [r["order_id"] for r in res["results"]] == [str(sale.order_id), str(driver.order_id)]
    res = api.get("/api/v1/orders?page=2&size=2").json()["data"]
    assert [r["order_id"] for r in res["results"]] == [str(driver.order_id)]
    assert api.get("/api/v1/orders?type=1").json()["data"]["results"][0]["order_id"] == str(driver.order_id)
    assert api.get("/api/v1/orders?state_code=7").json()["data"]["total"] == 1
    assert api.get(f"/api/v1/orders?vid={sale.vid}").json()["data"]["total"] == 1
    bad = api.get("/api/v1/orders?limit=101&offset=-1&type=5&state_code=0&vid=x")
    assert bad.status_code == 400 and bad.json()["code"] == 3307
    assert set(bad.json()["data"]["errors"]) == {"limit", "offset", "type", "state_code", "vid"}
    assert api.get("/api/v1/orders?page=9").status_code == 400


def test_a_user_never_sees_another_users_orders(api: Any, user: Any, make_user: Any, client_for: Any) -> None:
    bob = make_user("bob")
    fund(bob, "1000")
    bobs = make_plan_order(bob, prices=("100.00",))
    for url in (
        f"/api/v1/orders/{bobs.order_id}",
        f"/api/v1/orders/{bobs.order_id}/events",
    ):
        res = api.get(url)
        assert res.status_code == 404 and res.json()["code"] == 3501
        assert str(bobs.order_id) not in res.content.decode()
    for action in ("pay", "cancel"):
        res = api.post(f"/api/v1/orders/{bobs.order_id}/{action}", {}, format="json")
        assert res.status_code == 404 and res.json()["code"] == 3501
    assert api.get("/api/v1/orders").json()["data"] == {"total": 0, "results": [], "next": None}
    assert api.get(f"/api/v1/orders?vid={bobs.vid}").json()["data"]["total"] == 0
    assert api.get("/api/v1/orders/not-a-uuid").status_code == 404
    bobs.refresh_from_db()
    assert bobs.state_code == 1 and balance(personal_account(bob).pk) == Decimal("1000.0000")
    assert client_for(bob).get(f"/api/v1/orders/{bobs.order_id}").status_code == 200


def test_namespace_not_a_member_is_403(api: Any, make_user: Any) -> None:
    make_driver_order(make_user("carol"))
    res = api.post(
        "/api/v1/driver-orders",
        {"vid": _u(), "dids": [_u()], "summary": "1", "payment": "1", "namespace": "carol"},
        format="json",
    )
    assert res.status_code == 403 and res.json()["code"] == 3306


@pytest.mark.parametrize("path", ["/api/v1/plan-orders", "/api/v1/driver-orders", "/api/v1/sale-orders"])
@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {},
        {"plans": [], "items": [], "dids": "abc"},
        {"plans": {"x": []}, "items": {"k": None}, "dids": [None, 5]},
        {"summary": "1e400", "payment": "NaN", "vid": 5, "qid": ["x"], "expect_at": 5},
        {
            "summary": "Infinity",
            "payment": True,
            "service_ratio": [],
            "expect_at": "9999-12-31T00:00:00+00:00",
        },
        {"namespace": 7},
    ],
)
def test_garbage_bodies_are_clean_400s(api: Any, path: str, body: Any) -> None:
    res = api.post(path, body, format="json")
    assert res.status_code in (400, 403), res.content
    assert res.json()["code"] in (3307, 3306)
    assert VehicleOrder.objects.count() == 0


def test_huge_list_params_are_400(api: Any) -> None:
    for query in ("offset=99999999999999999999999", "page=99999999999999999999", "limit=0", "size=abc"):
        res = api.get(f"/api/v1/orders?{query}")
        assert res.status_code == 400 and res.json()["code"] == 3307, query


def test_the_underwriting_reason_is_kept_in_the_event(api: Any, staff_api: Any, user: Any) -> None:
    fund(user, "5000")
    approved, rejected, silent = (make_plan_order(user) for _ in range(3))
    for order in (approved, rejected, silent):
        assert api.post(f"/api/v1/orders/{order.order_id}/pay", format="json").status_code == 200
    url = "/api/v1/orders/{}/underwrite"
    res = staff_api.post(
        url.format(approved.order_id), {"result": "approved", "reason": "docs ok"}, format="json"
    )
    assert res.status_code == 200
    res = staff_api.post(
        url.format(rejected.order_id), {"result": "rejected", "reason": "vehicle too old"}, format="json"
    )
    assert res.status_code == 200 and res.json()["data"]["state_code"] == 8
    assert (
        staff_api.post(url.format(silent.order_id), {"result": "rejected"}, format="json").status_code == 200
    )
    event = VehicleOrderEvent.objects.get(order=approved, kind="underwrite")
    assert event.data["result"] == "approved" and event.data["reason"] == "docs ok"
    event = VehicleOrderEvent.objects.get(order=rejected, kind="cancel")
    assert event.data["result"] == "rejected" and event.data["reason"] == "vehicle too old"
    assert event.data["refund"] == "1000.0000"
    event = VehicleOrderEvent.objects.get(order=silent, kind="cancel")
    assert event.data["reason"] == "underwriting rejected"
    events = api.get(f"/api/v1/orders/{approved.order_id}/events").json()["data"]["results"]
    assert events[-1]["data"]["reason"] == "docs ok" and events[-1]["actor"] == "staffer"
    too_long = staff_api.post(
        url.format(approved.order_id), {"result": "approved", "reason": "x" * 501}, format="json"
    )
    assert too_long.status_code == 400 and set(too_long.json()["data"]["errors"]) == {"reason"}
