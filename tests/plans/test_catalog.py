"""Catalog import/export (API.md "The catalog document")."""

from __future__ import annotations

import copy
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from config.exceptions import DomainError
from plans import demo
from plans.catalog import catalog_export, catalog_import
from plans.models import (
    Component,
    MeteredService,
    Plan,
    PlanItem,
    PlanStatus,
    PriceRule,
    PriceVersion,
    Product,
)
from plans.selectors import get_cost, price_in_force
from plans.services import price_mark_used

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def snapshot() -> list[Any]:
    """Every catalog row, to prove that a refused or no-op import changed nothing."""
    return [
        sorted(Product.objects.values_list("prod_id", "name", "description")),
        sorted(
            Component.objects.values_list("product__prod_id", "component_id", "billing_mode", "cycle", "unit")
        ),
        sorted(
            Plan.objects.values_list(
                "plan_id",
                "name",
                "plan_type",
                "region",
                "billing_mode",
                "cycle",
                "unit",
                "status",
                "product_id",
            )
        ),
        sorted(PriceVersion.objects.values_list("pk", "plan__plan_id", "price", "effective_from")),
        sorted(PriceRule.objects.values_list("pk", "plan__plan_id", "component__component_id", "price")),
        sorted(PlanItem.objects.values_list("piid", "plan__plan_id", "name", "price")),
        sorted(MeteredService.objects.values_list("service", "unit_price", "monthly_free_quota", "active")),
    ]


@pytest.fixture
def doc() -> dict[str, Any]:
    return demo.demo_document()


def test_valid_document_imports_everything(doc):
    report = catalog_import(doc, now=NOW)
    assert "plan:vol-50g" in report.created and "product:ecs" in report.created
    assert "vol-50g@2026-01-01T00:00:00Z" in report.new_versions
    assert report.retired == [] and report.updated == []
    vol = Plan.objects.get(plan_id="vol-50g")
    assert price_in_force(vol, NOW) == Decimal("10.0000") and vol.region == "cn-north-1"
    assert Plan.objects.get(plan_id="res-cpu").region == ""
    assert PlanItem.objects.filter(plan__plan_id="car-basic").count() == 3
    cost = get_cost(
        prod_id="ecs",
        plan_id="ecs-std",
        components=[
            {"component_id": "cpu", "attrs": {"cores": 4}},
            {"component_id": "disk", "attrs": {"disk_type": "ssd"}},
            {"component_id": "traffic", "attrs": {}},
        ],
        at=NOW,
    )
    assert cost.total == Decimal("31.7000")


def test_dry_run_changes_nothing_but_reports(doc):
    before = snapshot()
    report = catalog_import(doc, dry_run=True, now=NOW)
    assert report.dry_run and "plan:vol-50g" in report.created
    assert snapshot() == before


def test_invalid_document_changes_nothing_and_lists_json_paths(doc):
    catalog_import(doc, now=NOW)
    before = snapshot()
    bad = copy.deepcopy(doc)
    bad["plans"][0]["name"] = "Renamed"  # a valid change that must not be applied either
    bad["plans"][2]["prices"][0]["price"] = "-1"
    bad["plans"][1]["prices"][0]["effective_from"] = "yesterday"
    bad["plans"][8]["rules"][0]["component_id"] = "gpu"
    bad["plans"][3]["billing_mode"] = "weekly"
    bad["products"][0]["components"][1]["cycle"] = None
    bad["metered_services"][0]["unit_price"] = 0.5  # a float is refused
    with pytest.raises(DomainError) as exc:
        catalog_import(bad, now=NOW)
    err = exc.value
    assert err.code_for("plans") == 3607
    errors = err.errors or {}
    assert set(errors) >= {
        "plans[2].prices[0].price",
        "plans[1].prices[0].effective_from",
        "plans[3].billing_mode",
        "products[0].components[1].cycle",
        "metered_services[0].unit_price",
    }
    assert "plans[2].prices[0].price" in err.message
    assert snapshot() == before
    # The database-level check (unknown component) is reported once the shape is fine.
    bad2 = copy.deepcopy(doc)
    bad2["plans"][8]["rules"][0]["component_id"] = "gpu"
    with pytest.raises(DomainError) as exc:
        catalog_import(bad2, now=NOW)
    assert "plans[8].rules[0].component_id" in (exc.value.errors or {})
    assert snapshot() == before


@pytest.mark.parametrize("garbage", [None, [], "text", {"plans": "x"}, {"plans": [1, None]}, {}])
def test_garbage_documents(garbage):
    with pytest.raises(DomainError) as exc:
        catalog_import(garbage, now=NOW)
    assert exc.value.code_for("plans") == 3607 and exc.value.errors


def test_export_then_import_changes_nothing(doc):
    catalog_import(doc, now=NOW)
    price_mark_used(version_id=PriceVersion.objects.first().pk, at=NOW)  # type: ignore[union-attr]
    before = snapshot()
    exported = catalog_export()
    report = catalog_import(exported, now=NOW)
    assert not report.changed, report.as_dict()
    assert report.kept_used == []
    assert snapshot() == before
    assert catalog_export() == exported
    # Importing the demo document again is a no-op too (the demo loader is idempotent).
    assert not catalog_import(doc, now=NOW).changed


def test_export_format(doc):
    catalog_import(doc, now=NOW)
    exported = catalog_export()
    vol = next(p for p in exported["plans"] if p["plan_id"] == "vol-50g")
    assert vol["prices"] == [{"price": "10.0000", "effective_from": "2026-01-01T00:00:00Z"}]
    assert vol["region"] == "cn-north-1" and vol["billing_mode"] == "prepaid" and vol["cycle"] == "month"
    ecs = next(p for p in exported["plans"] if p["plan_id"] == "ecs-std")
    assert ecs["prod_id"] == "ecs" and "billing_mode" not in ecs and ecs["region"] is None
    assert {
        "component_id": "cpu",
        "attrs": {"cores": 2},
        "price": "0.5000",
        "effective_from": "2026-01-01T00:00:00Z",
    } in ecs["rules"]
    assert {s["service"] for s in exported["metered_services"]} == {"passport", "payment", "asset"}


def test_disappeared_plans_are_retired_and_used_versions_kept(doc):
    catalog_import(doc, now=NOW)
    vol = Plan.objects.get(plan_id="vol-50g")
    used = vol.price_versions.get()
    price_mark_used(version_id=used.pk, at=NOW)
    changed = copy.deepcopy(doc)
    changed["plans"] = [p for p in changed["plans"] if p["plan_id"] != "car-plus"]
    changed["plans"][0]["prices"][0]["price"] = "11.00"  # edit of a used version: kept
    changed["plans"][1]["prices"].append({"price": "20.00", "effective_from": "2026-06-01T00:00:00Z"})
    changed["plans"][1]["name"] = "Volume 100G v2"
    report = catalog_import(changed, now=NOW)
    assert report.retired == ["plan:car-plus"]
    assert report.kept_used == ["vol-50g@2026-01-01T00:00:00Z"]
    assert report.new_versions == ["vol-100g@2026-06-01T00:00:00Z"]
    assert report.updated == ["plan:vol-100g"]
    car_plus = Plan.objects.get(plan_id="car-plus")
    assert car_plus.status == PlanStatus.RETIRED and car_plus.items.count() == 3  # retired, not deleted
    used.refresh_from_db()
    assert used.price == Decimal("10.0000")
    # The withdrawn future version of vol-100g is removed when it disappears again (unused).
    report = catalog_import(doc, now=NOW)
    assert report.removed_versions == ["vol-100g@2026-06-01T00:00:00Z"]
    assert "plan:car-plus" in report.updated


def test_new_version_too_soon_is_refused_unless_forced(doc):
    catalog_import(doc, now=NOW)
    soon = copy.deepcopy(doc)
    soon["plans"][0]["prices"].append({"price": "12.00", "effective_from": "2026-04-01T00:00:00Z"})
    before = snapshot()
    with pytest.raises(DomainError) as exc:
        catalog_import(soon, now=NOW)
    assert "plans[0].prices[1].effective_from" in (exc.value.errors or {})
    assert snapshot() == before
    report = catalog_import(soon, now=NOW, force=True)
    assert report.new_versions == ["vol-50g@2026-04-01T00:00:00Z"]


def test_demo_loader_is_idempotent():
    out = io.StringIO()
    demo.load(out)
    demo.load(out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "created 0, updated 0" in lines[1]
    assert Plan.objects.filter(plan_id__in=["vol-50g", "vol-100g", "res-gpu-hourly", "car-plus"]).count() == 4
    assert Plan.objects.get(plan_id="res-gpu-hourly").cycle == "hour"
    assert price_in_force(Plan.objects.get(plan_id="res-gpu-hourly"), NOW + timedelta(days=400)) == Decimal(
        "2.5"
    )


def test_demo_piids_are_fixed():
    catalog_import(demo.demo_document(), now=NOW)
    item = PlanItem.objects.get(piid=demo.demo_piid("car-basic/liability"))
    assert item.plan.plan_id == "car-basic" and item.price == Decimal("1000.0000")
    assert str(demo.demo_piid("car-plus/roadside")) == next(
        i["piid"]
        for p in demo.demo_document()["plans"]
        if p["plan_id"] == "car-plus"
        for i in p["items"]
        if i["name"] == "Roadside assistance"
    )


def test_empty_plan_list_does_not_retire_the_catalog(doc):
    catalog_import(doc, now=NOW)
    before = snapshot()
    with pytest.raises(DomainError) as exc:
        catalog_import({"plans": []}, now=NOW)
    assert exc.value.code_for("plans") == 3607 and "plans" in (exc.value.errors or {})
    assert snapshot() == before
