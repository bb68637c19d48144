"""``/usageapi/v1/orders``: get, lists (paging, filters, aliases), auth, tenancy and idempotency."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from billing.services import account_get_or_create
from orders.models import PurchaseOrder, PurchaseOrderStatus
from orders.purchase.services import purchase_order_create
from tests.orders.purchase.helpers import T0, account_of, assert_ledger, balance, make_plan

pytestmark = pytest.mark.django_db


def seed_orders(user, n: int = 5, region: str = "cn-north-1") -> list[PurchaseOrder]:
    account = account_of(user, "1000")
    make_plan("vol-50g", "10", region="")
    make_plan("cpu-1", "5", plan_type="cpu", region="")
    out = []
    for i in range(n):
        r = purchase_order_create(
            account=account,
            creator=user,
            region=region if i % 2 == 0 else "cn-east-1",
            plan_id="vol-50g" if i < 3 else "cpu-1",
            parameters={"resource_name": f"res-{i}"},
            at=T0 + timedelta(hours=i),
        )
        out.append(r.order)
    return out


def test_get_by_int_id_or_order_id(api, user):
    orders = seed_orders(user, 1)
    o = orders[0]
    for ident in (str(o.pk), o.order_id):
        r = api.get(f"/usageapi/v1/orders/{ident}")
        assert r.status_code == 200
        order = r.json()["data"]["order"]
        assert set(order) == {
            "id", "order_id", "namespace", "region", "quantities", "plan_id", "plan_type",
            "resource_name", "start_time", "deadline", "status", "creator",
        }  # fmt: skip
        assert order["id"] == o.pk and order["status"] == "consuming"
    r = api.get("/usageapi/v1/orders/999999")
    assert (r.status_code, r.json()["code"]) == (404, 3318)


def test_list_paging_filters_and_order(api, user):
    orders = seed_orders(user, 5)
    r = api.get("/usageapi/v1/orders?size=2")
    data = r.json()["data"]
    assert data["total"] == 5 and len(data["results"]) == 2
    assert [o["id"] for o in data["results"]] == [orders[4].pk, orders[3].pk]  # newest start first
    page3 = api.get("/usageapi/v1/orders?size=2&page=3").json()["data"]
    assert [o["id"] for o in page3["results"]] == [orders[0].pk]
    r = api.get("/usageapi/v1/orders?size=2&page=4")
    assert (r.status_code, r.json()["code"]) == (400, 3307)
    assert api.get("/usageapi/v1/orders?size=500").json()["data"]["total"] == 5
    assert api.get("/usageapi/v1/orders?page=0").json()["code"] == 3307
    assert api.get("/usageapi/v1/orders?region=cn-north-1").json()["data"]["total"] == 3
    assert api.get("/usageapi/v1/orders?type=cpu").json()["data"]["total"] == 2
    res = api.get("/usageapi/v1/orders?resource_name=res-3").json()["data"]["results"]
    assert [o["order_id"] for o in res] == [orders[3].order_id]
    r = api.get("/usageapi/v1/orders?status=bogus")
    assert (r.status_code, r.json()["code"]) == (400, 3307)


def test_status_filter_alias_and_pending_hidden(api, user):
    orders = seed_orders(user, 3)
    PurchaseOrder.objects.filter(pk=orders[0].pk).update(status=PurchaseOrderStatus.RENEWALFAILED)
    PurchaseOrder.objects.filter(pk=orders[1].pk).update(status=PurchaseOrderStatus.PENDING)
    api.put(f"/usageapi/v1/orders/{orders[2].pk}", {"action": "cancel"}, format="json")
    total = lambda q: api.get(f"/usageapi/v1/orders{q}").json()["data"]["total"]  # noqa: E731
    assert total("") == 2  # pending is hidden unless asked for
    assert total("?status=pending") == 1
    assert total("?status=renewalfailed") == total("?status=renewfailed") == 1
    assert total("?status=ended") == 1
    assert total("?status=consuming") == 0
    ended = api.get("/usageapi/v1/orders?status=ended").json()["data"]["results"][0]
    assert ended["status"] == "ended" and ended["end_time"]


def test_auth_is_3305(user):
    r = APIClient().get("/usageapi/v1/orders")
    assert (r.status_code, r.json()["code"]) == (401, 3305)
    r = APIClient().post("/usageapi/v1/orders", {"region": "r", "plan_id": "p"}, format="json")
    assert (r.status_code, r.json()["code"]) == (401, 3305)


def test_tenant_isolation(api, user, make_user, client_for):
    orders = seed_orders(user, 2)
    bob = make_user("bob")
    bob_api = client_for(bob)
    account_get_or_create(namespace="bobcorp", member=bob)
    # another tenant's order by id: 404 3318, for every verb
    for ident in (orders[0].pk, orders[0].order_id):
        r = bob_api.get(f"/usageapi/v1/orders/{ident}")
        assert (r.status_code, r.json()["code"]) == (404, 3318)
        r = bob_api.put(f"/usageapi/v1/orders/{ident}", {"action": "cancel"}, format="json")
        assert (r.status_code, r.json()["code"]) == (404, 3318)
    assert bob_api.get("/usageapi/v1/orders").json()["data"]["total"] == 0
    # naming a namespace you are not a member of: 403 3306
    for url in (
        "/usageapi/v1/orders?namespace=alice",
        "/usageapi/v1/usages?namespace=alice",
        "/usageapi/v1/speed?namespace=alice",
        "/usageapi/v1/reports?namespace=alice&period=2026-03",
    ):
        r = bob_api.get(url)
        assert (r.status_code, r.json()["code"]) == (403, 3306), url
    r = bob_api.post(
        "/usageapi/v1/orders", {"namespace": "alice", "region": "r", "plan_id": "vol-50g"}, format="json"
    )
    assert (r.status_code, r.json()["code"]) == (403, 3306)
    # a shared namespace works for its members
    r = bob_api.post(
        "/usageapi/v1/orders?drytry=1",
        {"namespace": "bobcorp", "region": "r", "plan_id": "vol-50g"},
        format="json",
    )
    assert r.json()["data"]["money"] == "10.00"
    r = api.get(f"/usageapi/v1/orders/{orders[0].pk}?namespace=bobcorp")
    assert r.json()["code"] == 3306
    assert PurchaseOrder.objects.get(pk=orders[0].pk).status == PurchaseOrderStatus.CONSUMING


def test_staff_may_read_any_namespace(staff_api, user):
    orders = seed_orders(user, 1)
    r = staff_api.get("/usageapi/v1/orders?namespace=alice")
    assert r.json()["data"]["total"] == 1
    assert (
        staff_api.get(f"/usageapi/v1/orders/{orders[0].pk}").json()["data"]["order"]["namespace"] == "alice"
    )


def test_create_with_idempotency_key_replays_and_conflicts(api, user):
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    body = {"region": "cn-north-1", "plan_id": "vol-50g"}
    r1 = api.post("/usageapi/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    r2 = api.post("/usageapi/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert r1.status_code == r2.status_code == 201
    assert r1.json() == r2.json()
    assert PurchaseOrder.objects.count() == 1 and balance(account) == Decimal("70")
    r3 = api.post(
        "/usageapi/v1/orders", {**body, "quantities": 2}, format="json", HTTP_IDEMPOTENCY_KEY="create-1"
    )
    assert (r3.status_code, r3.json()["code"]) == (409, 3320)
    assert_ledger(account)


def test_bad_json_is_3302(api, user):
    r = api.generic("POST", "/usageapi/v1/orders", "{not json", content_type="application/json")
    assert (r.status_code, r.json()["code"]) == (400, 3302)
