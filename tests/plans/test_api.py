"""Catalog API (API.md "Plans"): envelopes, staff-only writes, 3307/36xx naming the field."""

from __future__ import annotations

from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import clock
from plans import demo
from plans.catalog import catalog_import
from plans.models import Plan, PlanStatus, PriceVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog() -> None:
    catalog_import(demo.demo_document())


def ok(resp: Any, status: int = 200) -> Any:
    body = resp.json()
    assert resp.status_code == status, body
    assert body["code"] == 0 and body["msg"] == "OK"
    return body["data"]


def err(resp: Any, status: int, code: int) -> dict[str, Any]:
    body = resp.json()
    assert resp.status_code == status, body
    assert body["code"] == code, body
    return body


def test_list_filters_and_pagination(api, catalog):
    data = ok(api.get("/api/v1/plans"))
    assert data["total"] == Plan.objects.count() == 11
    north = ok(api.get("/api/v1/plans", {"region": "cn-north-1", "size": 100}))
    ids = {p["plan_id"] for p in north["results"]}
    assert {"vol-50g", "vol-100g", "bsi-basic", "res-cpu", "ecs-std"} <= ids  # region or every region
    assert not ids & {"vol-50g-south", "bsi-basic-south"}
    vol = ok(api.get("/api/v1/plans", {"plan_type": "volume", "region": "cn-south-1"}))
    assert [p["plan_id"] for p in vol["results"]] == ["vol-50g-south"]
    assert vol["results"][0]["price"] == "9.5000"
    hourly = ok(api.get("/api/v1/plans", {"billing_mode": "hourly"}))
    assert [p["plan_id"] for p in hourly["results"]] == ["res-gpu-hourly"]
    page = ok(api.get("/api/v1/plans", {"size": 5, "page": 3}))
    assert page["total"] == 11 and len(page["results"]) == 1
    body = err(api.get("/api/v1/plans", {"billing_mode": "weekly", "status": "gone"}), 400, 3307)
    assert set(body["data"]["errors"]) == {"billing_mode", "status"}
    err(api.get("/api/v1/plans", {"page": 99}), 400, 3307)
    assert ok(api.get("/api/v1/plans", {"status": "retired"}))["total"] == 0


def test_detail_with_price_versions(api, catalog):
    data = ok(api.get("/api/v1/plans/vol-50g"))
    assert data["price"] == "10.0000" and data["region"] == "cn-north-1"
    assert [(v["price"], v["effective_from"], v["used"]) for v in data["price_versions"]] == [
        ("10.0000", "2026-01-01T00:00:00Z", False)
    ]
    car = ok(api.get("/api/v1/plans/car-basic"))
    assert len(car["items"]) == 3 and car["region"] is None
    body = err(api.get("/api/v1/plans/nope"), 404, 3601)
    assert "nope" in body["msg"]


def test_writes_are_staff_only(api, catalog, client):
    body = {"plan_id": "x1", "name": "X", "plan_type": "volume", "billing_mode": "prepaid", "cycle": "month"}
    err(api.post("/api/v1/plans", body, format="json"), 403, 3306)
    err(api.patch("/api/v1/plans/vol-50g", {"name": "Y"}, format="json"), 403, 3306)
    err(
        api.post(
            "/api/v1/plans/vol-50g/prices",
            {"price": "1", "effective_from": "2030-01-01T00:00:00Z"},
            format="json",
        ),
        403,
        3306,
    )
    err(api.get("/api/v1/catalog"), 403, 3306)
    err(api.post("/api/v1/plans/sync", {}, format="json"), 403, 3306)
    err(client.get("/api/v1/plans"), 401, 3305)
    err(client.get("/api/v1/catalog", HTTP_AUTHORIZATION="Token not-a-token"), 401, 3305)
    assert not Plan.objects.filter(plan_id="x1").exists()
    assert Plan.objects.get(plan_id="vol-50g").name == "Volume 50G"


def test_staff_create_update_retire(staff_api, catalog):
    body = {
        "plan_id": "x1",
        "name": "X",
        "plan_type": "volume",
        "billing_mode": "prepaid",
        "cycle": "month",
        "region": "cn-north-1",
    }
    data = ok(staff_api.post("/api/v1/plans", body, format="json"), 201)
    assert data["plan_id"] == "x1" and data["status"] == "active" and data["price_versions"] == []
    err(staff_api.post("/api/v1/plans", body, format="json"), 409, 3602)
    bad = err(
        staff_api.post(
            "/api/v1/plans", {**body, "plan_id": "a b", "cycle": "week", "colour": 1}, format="json"
        ),
        400,
        3307,
    )
    assert "colour" in bad["data"]["errors"]
    bad = err(
        staff_api.post("/api/v1/plans", {**body, "plan_id": "a b", "cycle": "week"}, format="json"), 400, 3307
    )
    assert set(bad["data"]["errors"]) == {"plan_id", "cycle"} and "plan_id" in bad["msg"]
    bad = err(
        staff_api.post("/api/v1/plans", {**body, "plan_id": "x2", "billing_mode": ""}, format="json"),
        400,
        3307,
    )
    assert "billing_mode" in bad["data"]["errors"]
    err(
        staff_api.post("/api/v1/plans", {**body, "plan_id": "x3", "prod_id": "nope"}, format="json"),
        400,
        3606,
    )
    data = ok(staff_api.patch("/api/v1/plans/x1", {"name": "X one", "region": None}, format="json"))
    assert data["name"] == "X one" and data["region"] is None
    err(staff_api.patch("/api/v1/plans/x1", {"plan_id": "x9"}, format="json"), 400, 3307)
    data = ok(staff_api.patch("/api/v1/plans/x1", {"status": "retired"}, format="json"))
    assert data["status"] == "retired" and Plan.objects.get(plan_id="x1").status == PlanStatus.RETIRED
    err(staff_api.patch("/api/v1/plans/nope", {"name": "n"}, format="json"), 404, 3601)


def test_price_versions_via_api(staff_api, staff_user, catalog):
    soon = (clock.now() + timedelta(days=3)).isoformat()
    later = (clock.now() + timedelta(days=40)).replace(microsecond=0).isoformat()
    body = err(
        staff_api.post(
            "/api/v1/plans/vol-50g/prices", {"price": "11.00", "effective_from": soon}, format="json"
        ),
        400,
        3603,
    )
    assert "effective_from" in body["data"]["errors"]
    data = ok(
        staff_api.post(
            "/api/v1/plans/vol-50g/prices",
            {"price": "11.00", "effective_from": soon, "force": True},
            format="json",
        ),
        201,
    )
    assert data["forced"] is True and data["created_by"] == staff_user.username and data["price"] == "11.0000"
    data = ok(
        staff_api.post(
            "/api/v1/plans/vol-50g/prices", {"price": "12", "effective_from": later}, format="json"
        ),
        201,
    )
    assert data["forced"] is False
    assert PriceVersion.objects.filter(plan__plan_id="vol-50g").count() == 3
    body = err(
        staff_api.post(
            "/api/v1/plans/vol-50g/prices", {"price": "-1", "effective_from": "2030-01-01"}, format="json"
        ),
        400,
        3307,
    )
    assert set(body["data"]["errors"]) == {"price", "effective_from"}
    err(
        staff_api.post(
            "/api/v1/plans/vol-50g/prices", {"price": "1.00001", "effective_from": later}, format="json"
        ),
        400,
        3307,
    )
    err(
        staff_api.post(
            "/api/v1/plans/ecs-std/prices", {"price": "1", "effective_from": later}, format="json"
        ),
        400,
        3307,
    )
    err(
        staff_api.post("/api/v1/plans/nope/prices", {"price": "1", "effective_from": later}, format="json"),
        404,
        3601,
    )


def test_products(api, catalog):
    data = ok(api.get("/api/v1/products"))
    assert data["total"] == 1
    ecs = ok(api.get("/api/v1/products/ecs"))
    assert [c["component_id"] for c in ecs["components"]] == ["cpu", "disk", "traffic"]
    assert ecs["plans"] == ["ecs-std"]
    err(api.get("/api/v1/products/nope"), 404, 3606)


def test_cost(api, catalog):
    req = {
        "prod_id": "ecs",
        "plan_id": "ecs-std",
        "components": [
            {"component_id": "cpu", "attrs": {"cores": 2}},
            {"component_id": "disk", "attrs": {"disk_type": "hdd"}},
        ],
    }
    data = ok(api.post("/api/v1/cost", req, format="json"))
    assert data == {
        "components": [
            {
                "component_id": "cpu",
                "billing_mode": "hourly",
                "cycle": "hour",
                "unit": "instance",
                "price": "0.5000",
            },
            {
                "component_id": "disk",
                "billing_mode": "prepaid",
                "cycle": "month",
                "unit": "instance",
                "price": "12.0000",
            },
        ],
        "total": "12.5000",
    }
    req["components"][1]["attrs"] = {"disk_type": "nvme"}
    body = err(api.post("/api/v1/cost", req, format="json"), 400, 3604)
    assert "disk" in body["msg"] and "nvme" in body["msg"]
    assert list(body["data"]["errors"]) == ["components[1].attrs"]
    body = err(
        api.post("/api/v1/cost", {"prod_id": "ecs", "components": [{"attrs": []}]}, format="json"), 400, 3307
    )
    assert {"plan_id", "components[0].component_id", "components[0].attrs"} <= set(body["data"]["errors"])
    err(api.post("/api/v1/cost", {**req, "prod_id": "nope"}, format="json"), 404, 3606)
    err(api.post("/api/v1/cost", {**req, "plan_id": "vol-50g"}, format="json"), 404, 3601)
    err(api.post("/api/v1/cost", {**req, "components": []}, format="json"), 400, 3307)
    err(api.post("/api/v1/cost", "{bad json", content_type="application/json"), 400, 3302)


def test_catalog_export_and_sync_errors(staff_api, catalog, settings):
    data = ok(staff_api.get("/api/v1/catalog"))
    assert len(data["plans"]) == 11 and data["products"][0]["prod_id"] == "ecs"
    assert not catalog_import(data).changed
    settings.PLAN_SERVICE_URL = ""
    body = err(staff_api.post("/api/v1/plans/sync", {}, format="json"), 503, 3608)
    assert "PLAN_SERVICE_URL" in body["msg"]
    err(staff_api.post("/api/v1/plans/sync", {"dry_run": "maybe"}, format="json"), 400, 3307)
    err(staff_api.post("/api/v1/plans/sync", {"url": "http://evil"}, format="json"), 400, 3307)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=60)
    | st.decimals(allow_nan=False, allow_infinity=False).map(str),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
plan_keys = st.sampled_from(
    [
        "plan_id",
        "name",
        "plan_type",
        "region",
        "billing_mode",
        "cycle",
        "unit",
        "prod_id",
        "status",
        "description",
    ]
)
plan_bodies = st.dictionaries(plan_keys, json_values, max_size=10) | json_values
cost_bodies = (
    st.fixed_dictionaries(
        {
            "prod_id": st.sampled_from(["ecs", "nope", ""]) | json_values,
            "plan_id": st.sampled_from(["ecs-std", "vol-50g"]) | json_values,
            "components": st.lists(
                st.fixed_dictionaries(
                    {
                        "component_id": st.sampled_from(["cpu", "disk", "traffic", "gpu"]) | json_values,
                        "attrs": st.dictionaries(st.sampled_from(["cores", "disk_type", "x"]), json_values)
                        | json_values,
                    }
                ),
                max_size=3,
            )
            | json_values,
        }
    )
    | json_values
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=plan_bodies)
def test_random_plan_bodies_never_5xx(staff_api, body):
    resp = staff_api.post("/api/v1/plans", body, format="json")
    assert resp.status_code in (201, 400, 404, 409), resp.content
    payload = resp.json()
    assert set(payload) >= {"code", "msg"}
    if resp.status_code == 400:
        assert payload["code"] in (3307, 3606) and payload["data"]["errors"]
    Plan.objects.all().delete()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=cost_bodies)
def test_random_cost_bodies_never_5xx(api, catalog, body):
    resp = api.post("/api/v1/cost", body, format="json")
    assert resp.status_code in (200, 400, 404), resp.content
    payload = resp.json()
    if resp.status_code == 200:
        assert Decimal(payload["data"]["total"]) >= 0
    else:
        assert payload["code"] in (3307, 3601, 3604, 3605, 3606, 3609)


price_keys = st.sampled_from(["price", "effective_from", "force", "extra"])
patch_keys = st.sampled_from(
    ["name", "region", "billing_mode", "cycle", "unit", "status", "prod_id", "plan_type"]
)
times = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()) | st.text(max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    price_body=st.dictionaries(price_keys, json_values | times, max_size=4) | json_values,
    patch_body=st.dictionaries(patch_keys, json_values, max_size=5) | json_values,
)
def test_random_price_and_patch_bodies_never_5xx(staff_api, catalog, price_body, patch_body):
    for resp in (
        staff_api.post("/api/v1/plans/vol-50g/prices", price_body, format="json"),
        staff_api.patch("/api/v1/plans/res-cpu", patch_body, format="json"),
    ):
        assert resp.status_code < 500, resp.content
        assert resp.json()["code"] in (0, 3307, 3603, 3606, 3609, 3610)
