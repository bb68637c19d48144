"""The package-order API: seed request shapes, envelope, codes, tenancy, meter events."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from orders.models import PackageOrder, ProductInstance, SubscriptionLine
from tests.orders.package.factories import assert_balanced, funded_account, make_catalog
from usage.models import MeterEvent, UsageRecord

pytestmark = pytest.mark.django_db


def create_body(ns: str = "alice", ext: str = "i-1", cpu: str = "2", auto: int = 0) -> dict:
    return {
        "app_id": "app-1",
        "order_user_id": ns,
        "order_user_name": "Alice",
        "description": "two things",
        "extra_info": '{"note": 1}',
        "order_product_set": [
            {
                "prod_id": "vm",
                "prod_name": "VM",
                "prod_instance_ext_array": [{"id": ext, "is_auto_renew": auto}],
                "plan": {"plan_id": "vm-std", "attrs_id_value": [{"attr_id": "cpu", "attr_value": cpu}]},
            }
        ],
    }


@pytest.fixture
def setup(user):
    make_catalog()
    return funded_account("alice", "1000", member=user)


def create(api, **kw) -> str:
    r = api.post("/api/v1/package-orders", create_body(**kw), format="json")
    assert r.status_code == 201, r.content
    return r.json()["data"]["order_id"]


def test_create_charge_detail_flow(api, setup):
    r = api.post("/api/v1/package-orders", create_body(), format="json")
    assert r.status_code == 201
    body = r.json()
    assert body["code"] == 0
    data = body["data"]
    assert (
        data["order_status"] == "unpaid" and data["cost"] == "31.2000" and data["amount_payable"] == "31.2000"
    )
    oid = data["order_id"]
    r = api.post(f"/api/v1/package-orders/{oid}/charge", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 200 and r.json()["data"]["order_status"] == "paid"
    entry_id = r.json()["data"]["ledger_entry_id"]
    r2 = api.post(f"/api/v1/package-orders/{oid}/charge")
    assert r2.json()["data"]["ledger_entry_id"] == entry_id
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    d = api.get(f"/api/v1/package-orders/{oid}").json()["data"]
    assert d["order_status"] == "paid" and d["extra_info"] == '{"note": 1}'
    inst = d["instances"][0]
    assert inst["status"] == "running" and inst["subscription"]["status"] == "billing"
    assert {c["component_id"]: c["billing_mode"] for c in inst["subscription"]["components"]} == {
        "sys": "prepaid",
        "cpu": "hourly",
        "net": "postpaid",
    }
    assert len(d["bills"]) == 2 and {b["status"] for b in d["bills"]} == {"paid"}
    assert d["consume_orders"][0]["type"] == "new" and len(d["consume_orders"][0]["bill_ids"]) == 2
    lst = api.get("/api/v1/package-orders?size=1").json()["data"]
    assert lst["total"] == 1 and lst["results"][0]["order_id"] == oid
    assert_balanced(setup)


def test_validation_names_every_bad_field(api, setup):
    body = create_body()
    del body["app_id"]
    body["order_product_set"][0]["prod_instance_ext_array"] = []
    r = api.post("/api/v1/package-orders", body, format="json")
    assert r.status_code == 400
    j = r.json()
    assert j["code"] == 3307 and "app_id" in j["msg"]
    assert any(k.startswith("order_product_set[0].prod_instance_ext_array") for k in j["data"]["errors"])
    assert PackageOrder.objects.count() == 0


def test_pricing_error_is_reported_and_writes_nothing(api, setup):
    r = api.post("/api/v1/package-orders", create_body(cpu="99"), format="json")
    assert r.status_code == 400 and r.json()["code"] == 3407 and "cpu" in r.json()["msg"]
    assert any("attrs" in field for field in r.json()["data"]["errors"])
    assert PackageOrder.objects.count() == 0


def test_other_namespace_is_forbidden_and_other_tenant_objects_are_404(api, setup, make_user, client_for):
    r = api.post("/api/v1/package-orders", create_body(ns="bobspace"), format="json")
    assert r.status_code == 403
    oid = create(api)
    mallory = client_for(make_user("mallory"))
    for path in (f"/api/v1/package-orders/{oid}",):
        r = mallory.get(path)
        assert r.status_code == 404 and r.json()["code"] == 3401
    r = mallory.post(f"/api/v1/package-orders/{oid}/charge")
    assert r.status_code == 404 and r.json()["code"] == 3401
    r = mallory.post("/api/v1/instances/i-1/stop")
    assert r.status_code == 404 and r.json()["code"] == 3404
    assert mallory.get("/api/v1/package-orders").json()["data"]["total"] == 0
    assert mallory.get("/api/v1/bills").json()["data"]["total"] == 0


def test_cancel_of_paid_and_charge_of_canceled(api, setup):
    oid = create(api)
    api.post(f"/api/v1/package-orders/{oid}/charge")
    r = api.post(f"/api/v1/package-orders/{oid}/cancel")
    assert r.status_code == 409 and r.json()["code"] == 3402
    oid2 = create(api, ext="i-2")
    r = api.post(f"/api/v1/package-orders/{oid2}/cancel")
    assert r.status_code == 200 and r.json()["data"]["order_status"] == "canceled"
    r = api.post(f"/api/v1/package-orders/{oid2}/charge")
    assert r.status_code == 409 and r.json()["code"] == 3402


def test_insufficient_balance_is_3403(api, user, make_user, client_for):
    make_catalog()
    funded_account("alice", "5", member=user)
    oid = create(api)
    r = api.post(f"/api/v1/package-orders/{oid}/charge")
    assert r.status_code == 400 and r.json()["code"] == 3403
    assert PackageOrder.objects.get(order_id=oid).status == "unpaid"


def test_instance_operations(api, setup):
    oid = create(api)
    api.post(f"/api/v1/package-orders/{oid}/charge")
    r = api.post("/api/v1/instances/i-1/renew", {"charge_channel": "balance", "duration": "1"}, format="json")
    assert r.status_code == 200 and r.json()["data"]["cost"] == "30.0000"
    assert r.json()["data"]["prod_inst_id_ext"] == "i-1"
    r = api.post("/api/v1/instances/i-1/renew", {"duration": "x"}, format="json")
    assert r.status_code == 400 and "duration" in r.json()["data"]["errors"]
    r = api.post(
        "/api/v1/instances/i-1/change-config",
        {
            "plan_id": "vm-std",
            "component_infos": [
                {"component_id": "cpu", "attrs_id_value": [{"attr_id": "cpu", "attr_value": "16"}]}
            ],
        },
        format="json",
    )
    assert r.status_code == 400 and r.json()["code"] == 3407
    r = api.post(
        "/api/v1/instances/i-1/change-config",
        {
            "plan_id": "vm-std",
            "component_infos": [
                {"component_id": "cpu", "attrs_id_value": [{"attr_id": "cpu", "attr_value": "4"}]}
            ],
        },
        format="json",
    )
    assert r.status_code == 200 and Decimal(r.json()["data"]["cost"]) >= 0
    assert api.post("/api/v1/instances/i-1/pause").json()["data"]["status"] == "paused"
    assert api.post("/api/v1/instances/i-1/resume").json()["data"]["status"] == "running"
    assert api.post("/api/v1/instances/i-1/pause").json()["data"]["status"] == "paused"
    r = api.post("/api/v1/instances/i-1/stop")
    assert r.status_code == 200 and r.json()["data"]["status"] == "stopped"
    r = api.post("/api/v1/instances/i-1/pause")
    assert r.status_code == 409 and r.json()["code"] == 3405
    co = api.get(f"/api/v1/consume-orders?order_id={oid}").json()["data"]
    assert sorted(c["type"] for c in co["results"]) == ["change", "new", "renew"]
    bills = api.get(f"/api/v1/bills?order_id={oid}&instance=i-1&status=paid").json()["data"]
    assert bills["total"] >= 3 and all(b["instance"] == "i-1" for b in bills["results"])
    assert api.get("/api/v1/bills?status=bogus").status_code == 400
    assert_balanced(setup)


def test_meter_events_duplicates_and_rejects(api, setup):
    oid = create(api)
    api.post(f"/api/v1/package-orders/{oid}/charge")
    net = SubscriptionLine.objects.get(component_id="net")
    ts = (net.subscription.anchor).isoformat()
    events = [
        {"event_id": "e1", "instance": "i-1", "component_id": "net", "quantity": "2", "timestamp": ts},
        {"event_id": "e2", "instance": "i-1", "component_id": "net", "quantity": 3, "timestamp": ts},
        {"event_id": "e1", "instance": "i-1", "component_id": "net", "quantity": "2", "timestamp": ts},
        {"event_id": "e3", "instance": "nope", "component_id": "net", "quantity": "1", "timestamp": ts},
        {"event_id": "e4", "instance": "i-1", "component_id": "cpu", "quantity": "1", "timestamp": ts},
        {"event_id": "e5", "instance": "i-1", "component_id": "net", "quantity": "-1", "timestamp": ts},
        {
            "event_id": "e6",
            "instance": "i-1",
            "component_id": "net",
            "quantity": "1",
            "timestamp": "yesterday",
        },
        "junk",
    ]
    r = api.post("/api/v1/meter-events", {"events": events}, format="json")
    assert r.status_code == 200, r.content
    d = r.json()["data"]
    assert d["accepted"] == 2 and d["duplicates"] == 1
    assert [x["index"] for x in d["rejected"]] == [3, 4, 5, 6, 7]
    assert "not found" in d["rejected"][0]["reason"] and "not metered" in d["rejected"][1]["reason"]
    r = api.post("/api/v1/meter-events", {"events": events[:2]}, format="json")
    assert r.json()["data"] == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert MeterEvent.objects.count() == 2
    assert api.post("/api/v1/meter-events", {"events": []}, format="json").status_code == 400
    too_many = [{"event_id": f"x{i}"} for i in range(1001)]
    assert api.post("/api/v1/meter-events", {"events": too_many}, format="json").json()["code"] == 3307


def test_meter_events_batch_is_a_few_queries(api, setup, django_assert_max_num_queries):
    oid = create(api)
    api.post(f"/api/v1/package-orders/{oid}/charge")
    ts = SubscriptionLine.objects.get(component_id="net").subscription.anchor.isoformat()
    events = [
        {"event_id": f"b{i}", "instance": "i-1", "component_id": "net", "quantity": "1", "timestamp": ts}
        for i in range(1000)
    ]
    with django_assert_max_num_queries(20):
        r = api.post("/api/v1/meter-events", {"events": events}, format="json")
    assert r.json()["data"]["accepted"] == 1000
    assert ProductInstance.objects.count() == 1 and UsageRecord.objects.count() == 2


def test_fractional_numbers_in_json_fields_are_kept_exact(api, setup):
    body = create_body(cpu="2")
    body["extra_info"] = {"ratio": 0.1, "items": [1.25]}
    r = api.post("/api/v1/package-orders", body, format="json")
    assert r.status_code == 201, r.content
    order = PackageOrder.objects.get(order_id=r.json()["data"]["order_id"])
    assert order.extra_info == {"ratio": "0.1", "items": ["1.25"]}


def test_impossible_timestamp_is_rejected_not_a_500(api, setup):
    oid = create(api)
    api.post(f"/api/v1/package-orders/{oid}/charge")
    ev = {
        "event_id": "z",
        "instance": "i-1",
        "component_id": "net",
        "quantity": "1",
        "timestamp": "2026-13-45T00:00:00Z",
    }
    r = api.post("/api/v1/meter-events", {"events": [ev]}, format="json")
    assert r.status_code == 200 and r.json()["data"]["rejected"][0]["index"] == 0
