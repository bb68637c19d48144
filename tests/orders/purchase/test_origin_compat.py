"""Issue 23: a client written for the origin service (datafoundry_serviceusage) works on Tally.

Each test checks one point of ``docs/purchase-orders.md`` "Migrating from the origin service",
which states the origin's behaviour and where it is documented ("000:L" and "001:L" below are the
line references that section uses). Where Tally differs on purpose (201 on create, 403/404/409
statuses, namespaces from the token), the test says so.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from billing.models import LedgerEntry
from billing.services import account_get_or_create
from orders.models import PurchaseOrder, PurchaseOrderStatus
from orders.purchase.services import purchase_order_create
from tests.orders.purchase.helpers import T0, account_of, assert_ledger, balance, fund, make_plan
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
# 001:135-145 / 001:165-175: the ORDER object (``plan_type``, ``resource_name``, ``deadline`` are
# Tally's additions; ``end_time`` only once ended, 001:142/173).
ORIGIN_ORDER_FIELDS = {"id", "order_id", "namespace", "region", "quantities", "plan_id", "start_time"}
ORIGIN_ORDER_FIELDS |= {"status", "creator"}
# 001:196-201: a usage record.
ORIGIN_USAGE_FIELDS = {"order_id", "namespace", "region", "time", "money", "plan_id"}


def orders_of(user: Any, n: int = 2, namespace: str | None = None) -> list[PurchaseOrder]:
    account = account_get_or_create(namespace=namespace, member=user) if namespace else account_of(user)
    fund(account, "1000")
    make_plan("vol-50g", "10", region="")
    return [
        purchase_order_create(
            account=account,
            creator=user,
            region="cn-north-1",
            plan_id="vol-50g",
            parameters={"resource_name": f"vol-{namespace or 'me'}-{i}"},
            at=T0 + timedelta(hours=i),
        ).order
        for i in range(n)
    ]


# --- 23.1: list elements in the origin's shape -----------------------------------------------------


def test_list_elements_carry_the_order_object_beside_the_flat_fields(api, user):
    """001:159-175: ``data.total``, ``data.results[0].order.id`` ... ``data.results[0].order.creator``."""
    orders = orders_of(user, 2)
    data = api.get("/usageapi/v1/orders?region=cn-north-1&page=1&size=30").json()["data"]  # 001:146
    assert data["total"] == 2
    for element, order in zip(data["results"], reversed(orders), strict=True):
        nested = element["order"]
        assert ORIGIN_ORDER_FIELDS <= set(nested)
        assert isinstance(nested["id"], int) and nested["id"] == order.pk  # 001:89 "整型,非uuid"
        assert nested["order_id"] == order.order_id and nested["status"] == "consuming"
        assert (nested["namespace"], nested["creator"], nested["quantities"]) == ("alice", "alice", 1)
        assert "end_time" not in nested  # 001:173: only once the order has ended
        flat = {k: v for k, v in element.items() if k != "order"}
        assert flat == nested  # today's clients read the flat fields: the same values


def test_an_ended_order_in_a_list_has_end_time_in_both_places(api, user):
    """001:153 (status ``ended``), 001:173 (``end_time`` only when terminated)."""
    order = orders_of(user, 1)[0]
    assert api.put(f"/usageapi/v1/orders/{order.pk}", {"action": "cancel"}, format="json").status_code == 200
    element = api.get("/usageapi/v1/orders?status=ended").json()["data"]["results"][0]
    assert element["order"]["status"] == element["status"] == "ended"
    assert element["order"]["end_time"] == element["end_time"] is not None


def test_get_and_create_keep_the_order_under_data_order(api, user):
    """001:84-99 (create: ``data.money``, ``data.order.id``) and 001:131-144 (get: ``data.order``).
    Differs on purpose: create answers 201, not the origin's 200 (API.md)."""
    account_of(user, "100")
    make_plan("vol-50g", "10", region="")
    r = api.post("/usageapi/v1/orders", {"plan_id": "vol-50g", "region": "cn-north-1"}, format="json")
    assert r.status_code == 201
    body = r.json()
    assert body["code"] == 0 and body["data"]["money"] == "10.00"  # 001:86-88, money "%.2f"
    created = body["data"]["order"]
    assert ORIGIN_ORDER_FIELDS <= set(created) and isinstance(created["id"], int)
    got = api.get(f"/usageapi/v1/orders/{created['id']}").json()["data"]["order"]  # 001:119 int id
    assert got == created
    assert balance(PurchaseOrder.objects.get(pk=created["id"]).account) == Decimal("90")


# --- 23.3: cancel of an order that is not consuming ------------------------------------------------


def test_cancel_of_an_order_not_consuming_is_3318_with_409_and_changes_nothing(api, user):
    """001:101-117: PUT ``{"action": "cancel"}`` on ``order_id`` (the int key, 001:107). The origin
    looks the order up among the consuming ones and answers 3318 "not found or not consuming" when
    there is none; Tally keeps the code with its 409 status (the order exists, its state conflicts)."""
    order = orders_of(user, 1)[0]
    assert api.put(f"/usageapi/v1/orders/{order.pk}", {"action": "cancel"}, format="json").status_code == 200
    entries, records = LedgerEntry.objects.count(), UsageRecord.objects.count()
    before = balance(order.account)
    for ident in (str(order.pk), order.order_id):
        r = api.put(f"/usageapi/v1/orders/{ident}", {"action": "cancel"}, format="json")
        assert (r.status_code, r.json()["code"]) == (409, 3318), r.content
        r = api.put(f"/usageapi/v1/orders/{ident}?drytry=1", {"action": "cancel"}, format="json")
        assert (r.status_code, r.json()["code"]) == (409, 3318), r.content
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.ENDED
    assert (LedgerEntry.objects.count(), UsageRecord.objects.count()) == (entries, records)
    assert balance(order.account) == before
    assert_ledger(order.account)
    # A pending order (never paid) is not consuming either.
    PurchaseOrder.objects.filter(pk=order.pk).update(status=PurchaseOrderStatus.PENDING, end_time=None)
    r = api.put(f"/usageapi/v1/orders/{order.pk}", {"action": "cancel"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, 3318)
    # An order that does not exist stays 404 with the same code.
    r = api.put("/usageapi/v1/orders/999999", {"action": "cancel"}, format="json")
    assert (r.status_code, r.json()["code"]) == (404, 3318)


# --- 23.5: seed 000's parameter names --------------------------------------------------------------


def _usage_orders(api: Any, query: str) -> list[str]:
    r = api.get(f"/usageapi/v1/usages?{query}")
    assert r.status_code == 200, r.content
    return [u["order_id"] for u in r.json()["data"]["results"]]


def test_usages_take_user_for_namespace(api, user):
    """000:21 ``GET /usageapi/v1/usages?user={userId}&...``: ``user`` names the namespace."""
    mine = orders_of(user, 1)
    team = orders_of(user, 2, namespace="team")
    assert _usage_orders(api, "") == [mine[0].order_id]  # default: your own namespace (001:184)
    expected = [o.order_id for o in reversed(team)]
    assert _usage_orders(api, "user=team") == _usage_orders(api, "namespace=team") == expected
    assert _usage_orders(api, "user=team&namespace=team") == expected  # the same value twice is fine
    r = api.get("/usageapi/v1/usages?user=team&namespace=alice")  # two different namespaces: refused
    assert (r.status_code, r.json()["code"]) == (400, 3307)
    assert "user" in r.json()["data"]["errors"]
    r = api.get("/usageapi/v1/usages?user=someone-else")  # Tally: 403 for a namespace you are not in
    assert (r.status_code, r.json()["code"]) == (403, 3306)


def test_usages_take_starttime_and_endtime(api, user):
    """000:21 ``starttime={startTime}&endtime={endTime}``: ``[starttime, endtime)`` on ``time``."""
    orders = orders_of(user, 3)
    for i, order in enumerate(orders):
        UsageRecord.objects.filter(order_ref=order.order_id).update(created_at=T0 + timedelta(days=i))
    start, end = (T0 + timedelta(days=1)).isoformat(), (T0 + timedelta(days=2)).isoformat()
    query = f"starttime={start.replace('+', '%2B')}&endtime={end.replace('+', '%2B')}"
    assert _usage_orders(api, query) == [orders[1].order_id]


def test_order_by_its_string_order_id_or_integer_id_and_order_wins_over_user(api, user):
    """000:21/27 ``order={orderId}``, 000:24/30 "order参数将压制user参数" (order overrides user);
    001:185 (``order``: the order number). Both the int ``id`` and the string ``order_id`` work, and
    the order's own namespace is answered even when none is named."""
    orders_of(user, 1)
    team = orders_of(user, 2, namespace="team")[0]
    at = (T0 + timedelta(hours=3)).isoformat().replace("+", "%2B")
    for ident in (str(team.pk), team.order_id):
        assert _usage_orders(api, f"order={ident}") == [team.order_id]
        assert _usage_orders(api, f"order={ident}&user=team") == [team.order_id]
        r = api.get(f"/usageapi/v1/speed?order={ident}&time={at}")
        assert r.status_code == 200 and r.json()["data"]["orders"] == 1
    r = api.get(f"/usageapi/v1/usages?order={team.pk}&user=alice")  # Tally: a named namespace narrows
    assert (r.status_code, r.json()["code"]) == (404, 3318)


def test_speed_takes_user_for_namespace(api, user):
    """000:27 ``GET /usageapi/v1/speed?user={userId}&order={orderId}&time={time}``."""
    orders_of(user, 1)
    orders_of(user, 2, namespace="team")
    at = (T0 + timedelta(hours=3)).isoformat().replace("+", "%2B")
    mine = api.get(f"/usageapi/v1/speed?time={at}").json()["data"]
    by_user = api.get(f"/usageapi/v1/speed?user=team&time={at}").json()["data"]
    by_ns = api.get(f"/usageapi/v1/speed?namespace=team&time={at}").json()["data"]
    assert (mine["orders"], by_user["orders"]) == (1, 2)
    assert by_user == by_ns
    assert abs(Decimal(by_user["per_day"]) - 2 * Decimal(mine["per_day"])) <= Decimal("0.01")  # 2 places
    assert Decimal(mine["per_day"]) > 0
    r = api.get("/usageapi/v1/speed?user=team&namespace=alice")
    assert (r.status_code, r.json()["code"]) == (400, 3307)


# --- 23.6: usage results carry the origin's field names --------------------------------------------


def test_usage_results_carry_project_and_deadline_aliases(api, user):
    """001:190-201: ``data.results[0].order_id/namespace/region/time/money/plan_id``; the origin's
    clients also read ``project`` (the namespace) and ``deadline`` (the end of the paid period)."""
    order = orders_of(user, 1)[0]
    data = api.get("/usageapi/v1/usages?region=cn-north-1&page=1&size=30").json()["data"]  # 001:178
    assert data["total"] == 1
    usage = data["results"][0]
    assert ORIGIN_USAGE_FIELDS <= set(usage)
    assert (usage["order_id"], usage["namespace"], usage["plan_id"]) == (order.order_id, "alice", "vol-50g")
    assert usage["money"] == "10.00"
    assert usage["project"] == usage["namespace"] == "alice"
    assert usage["deadline"] == usage["period_end"]
    order.refresh_from_db()
    assert usage["deadline"] == api.get(f"/usageapi/v1/orders/{order.pk}").json()["data"]["order"]["deadline"]


# --- the schema documents all of it ----------------------------------------------------------------


def test_schema_documents_the_origin_shapes_and_names(api):
    schema = api.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]

    def ref_of(path: str) -> dict[str, Any]:
        content = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        return content["schema"]

    def params(path: str) -> set[str]:
        return {p["name"] for p in schema["paths"][path]["get"].get("parameters", [])}

    listing = str(ref_of("/usageapi/v1/orders"))
    item = next(name for name in components if name.startswith("PurchaseOrderListItem"))
    assert item in listing
    props = components[item]["properties"]
    assert "order" in props and "id" in props  # both shapes
    assert "PurchaseOrder" in str(props["order"])
    usage = components["UsageRecord"]["properties"]
    assert {"project", "deadline"} <= set(usage)
    assert "alias" in usage["project"]["description"] and "alias" in usage["deadline"]["description"]
    assert {"user", "namespace", "order", "starttime", "endtime"} <= params("/usageapi/v1/usages")
    assert {"user", "namespace", "order", "time"} <= params("/usageapi/v1/speed")
