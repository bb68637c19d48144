"""``catalog_export``: the whole catalog in the import format, so importing it again changes
nothing (prices as 4-place strings, times as ``...Z``; docs/plans.md)."""

from __future__ import annotations

from typing import Any

from config.money import money4
from plans.catalog.document import iso_utc
from plans.catalog.promotions import export_promotions
from plans.models import MeteredService, Plan, Product


def catalog_export() -> dict[str, Any]:
    """The whole catalog in the plan-service format; importing it again changes nothing."""
    products = [
        _export_product(product)
        for product in Product.objects.prefetch_related("components").order_by("prod_id")
    ]
    plans = [
        _export_plan(plan)
        for plan in Plan.objects.select_related("product").prefetch_related(
            "price_versions", "rules__component", "items"
        )
    ]
    services = [
        {
            "service": s.service,
            "unit_price": money4(s.unit_price),
            "monthly_free_quota": s.monthly_free_quota,
            "active": s.active,
        }
        for s in MeteredService.objects.order_by("service")
    ]
    return {
        "products": products,
        "plans": plans,
        "metered_services": services,
        "promotions": export_promotions(),
    }


def _export_product(product: Product) -> dict[str, Any]:
    return {
        "prod_id": product.prod_id,
        "name": product.name,
        "description": product.description,
        "components": [
            {
                "component_id": c.component_id,
                "name": c.name,
                "billing_mode": c.billing_mode,
                "cycle": c.cycle,
                "unit": c.unit,
            }
            for c in sorted(product.components.all(), key=lambda c: c.component_id)
        ],
    }


def _export_plan(plan: Plan) -> dict[str, Any]:
    """Optional keys are written only where the import would read them back the same way."""
    doc: dict[str, Any] = {
        "plan_id": plan.plan_id,
        "name": plan.name,
        "description": plan.description,
        "plan_type": plan.plan_type,
        "region": plan.region or None,
    }
    if plan.billing_mode:
        doc["billing_mode"] = plan.billing_mode
    if plan.cycle:
        doc["cycle"] = plan.cycle
    doc["unit"] = plan.unit
    doc["status"] = plan.status
    if plan.product:
        doc["prod_id"] = plan.product.prod_id
    versions = sorted(plan.price_versions.all(), key=lambda pv: pv.effective_from)
    if versions or not plan.product:
        doc["prices"] = [
            {"price": money4(pv.price), "effective_from": iso_utc(pv.effective_from)} for pv in versions
        ]
    rules = sorted(plan.rules.all(), key=lambda r: (r.component.component_id, r.effective_from, r.pk))
    if plan.product or rules:
        doc["rules"] = [
            {
                "component_id": r.component.component_id,
                "attrs": r.attrs or {},
                "price": money4(r.price),
                "effective_from": iso_utc(r.effective_from),
            }
            for r in rules
        ]
    items = sorted(plan.items.all(), key=lambda i: (i.name, str(i.piid)))
    if items:
        doc["items"] = [{"piid": str(i.piid), "name": i.name, "price": money4(i.price)} for i in items]
    return doc
