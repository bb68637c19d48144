"""Apply a checked document: upsert products, plans, prices, rules, items and metered services.

Runs inside the import's transaction. Plans and services missing from the document are retired,
never deleted (orders refer to them); used prices are never edited; unused future prices the
document no longer lists are withdrawn. Every change is recorded in the ``ImportReport``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from plans.catalog.document import (
    CatalogDocument,
    DocPlan,
    DocProduct,
    DocService,
    ImportReport,
    iso_utc,
)
from plans.catalog.promotions import apply_promotions
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
from plans.selectors import attrs_key


def apply_document(
    doc: CatalogDocument, *, now: datetime, dry_run: bool, retire_missing: bool
) -> ImportReport:
    report = ImportReport(dry_run=dry_run)
    for dprod in doc.products or []:
        _apply_product(dprod, report)
    for dp in doc.plans:
        _apply_plan(dp, report, now=now)
    in_doc = {dp.plan_id for dp in doc.plans}
    missing = Plan.objects.filter(status=PlanStatus.ACTIVE).exclude(plan_id__in=in_doc).order_by("pk")
    for plan in missing if retire_missing else []:
        plan.status = PlanStatus.RETIRED
        plan.save(update_fields=["status", "updated_at"])
        report.retired.append(f"plan:{plan.plan_id}")
    if doc.metered_services is not None:
        _apply_services(doc.metered_services, report, retire_missing=retire_missing)
    if doc.promotions is not None:
        apply_promotions(doc.promotions, report, retire_missing=retire_missing)
    return report


def _set_fields(obj: Any, values: dict[str, Any]) -> list[str]:
    """Set the values that differ on ``obj``; the names of the fields changed."""
    changed = [k for k, v in values.items() if getattr(obj, k) != v]
    for k in changed:
        setattr(obj, k, values[k])
    return changed


def _apply_product(dprod: DocProduct, report: ImportReport) -> None:
    values = {"name": dprod.name, "description": dprod.description}
    product = Product.objects.filter(prod_id=dprod.prod_id).first()
    if product is None:
        product = Product.objects.create(prod_id=dprod.prod_id, **values)
        report.created.append(f"product:{product.prod_id}")
    elif _set_fields(product, values):
        product.save()
        report.updated.append(f"product:{product.prod_id}")
    for dc in dprod.components:
        cvalues = {"name": dc.name, "billing_mode": dc.billing_mode, "cycle": dc.cycle, "unit": dc.unit}
        component = Component.objects.filter(product=product, component_id=dc.component_id).first()
        if component is None:
            Component.objects.create(product=product, component_id=dc.component_id, **cvalues)
            report.created.append(f"component:{product.prod_id}/{dc.component_id}")
        elif _set_fields(component, cvalues):
            component.save()
            report.updated.append(f"component:{product.prod_id}/{dc.component_id}")


def _apply_plan(dp: DocPlan, report: ImportReport, *, now: datetime) -> None:
    """The plan row, then its price versions, component rules and items. The plan counts as
    updated when a descriptive field or an unused price changed (a status change alone is a
    retirement, reported as such)."""
    product = Product.objects.get(prod_id=dp.prod_id) if dp.prod_id else None
    plan, plan_changed = _upsert_plan_row(dp, product, report)
    versions_changed = _apply_price_versions(dp, plan, report, now=now)
    rules_changed = _apply_rules(dp, plan, product, report, now=now)
    _apply_items(dp, plan, report)
    if plan_changed or versions_changed or rules_changed:
        report.updated.append(f"plan:{plan.plan_id}")


def _upsert_plan_row(dp: DocPlan, product: Product | None, report: ImportReport) -> tuple[Plan, bool]:
    values = {
        "name": dp.name,
        "description": dp.description,
        "plan_type": dp.plan_type,
        "region": dp.region,
        "billing_mode": dp.billing_mode,
        "cycle": dp.cycle,
        "unit": dp.unit,
        "status": dp.status,
        "product": product,
    }
    plan = Plan.objects.filter(plan_id=dp.plan_id).first()
    if plan is None:
        plan = Plan.objects.create(plan_id=dp.plan_id, **values)
        report.created.append(f"plan:{plan.plan_id}")
        return plan, False
    changed = _set_fields(plan, values)
    if not changed:
        return plan, False
    plan.save()
    if "status" in changed and dp.status == PlanStatus.RETIRED:
        report.retired.append(f"plan:{plan.plan_id}")
    return plan, changed != ["status"] or dp.status == PlanStatus.ACTIVE


def _apply_price_versions(dp: DocPlan, plan: Plan, report: ImportReport, *, now: datetime) -> bool:
    """Create new versions, reprice unused ones, withdraw unused future ones no longer listed.
    True when an existing unused version got a new price."""
    repriced = False
    existing = {pv.effective_from: pv for pv in plan.price_versions.all()}
    listed = set()
    for price in dp.prices:
        listed.add(price.effective_from)
        label = f"{plan.plan_id}@{iso_utc(price.effective_from)}"
        old = existing.get(price.effective_from)
        if old is None:
            PriceVersion.objects.create(plan=plan, price=price.price, effective_from=price.effective_from)
            report.new_versions.append(label)
        elif _reprice_unused(old, price.price, label, report):
            repriced = True
    for start, old in existing.items():
        if start not in listed and old.first_used_at is None and start > now:
            old.delete()
            report.removed_versions.append(f"{plan.plan_id}@{iso_utc(start)}")
    return repriced


def _reprice_unused(old: PriceVersion | PriceRule, price: Decimal, label: str, report: ImportReport) -> bool:
    """A listed price that differs from the stored one: a used price is kept (and reported as
    ``kept_used``), an unused one takes the new amount. True when the amount changed."""
    if old.price == price:
        return False
    if old.first_used_at is not None:
        report.kept_used.append(label)
        return False
    old.price = price
    old.save(update_fields=["price"])
    return True


def _apply_rules(
    dp: DocPlan, plan: Plan, product: Product | None, report: ImportReport, *, now: datetime
) -> bool:
    """The same for component rules, keyed by (component, attrs, start)."""
    repriced = False
    components = {c.component_id: c for c in Component.objects.filter(product=product)} if product else {}
    rules = {
        (r.component.component_id, attrs_key(r.attrs), r.effective_from): r
        for r in plan.rules.select_related("component")
    }
    listed_rules = set()
    for rule in dp.rules:
        listed_rules.add(rule.key)
        label = f"{plan.plan_id}/{rule.component_id}{attrs_key(rule.attrs)}@{iso_utc(rule.effective_from)}"
        old_rule = rules.get(rule.key)
        if old_rule is None:
            PriceRule.objects.create(
                plan=plan,
                component=components[rule.component_id],
                attrs=rule.attrs,
                price=rule.price,
                effective_from=rule.effective_from,
            )
            report.new_versions.append(label)
        elif _reprice_unused(old_rule, rule.price, label, report):
            repriced = True
    for key, old_rule in rules.items():
        if key not in listed_rules and old_rule.first_used_at is None and old_rule.effective_from > now:
            old_rule.delete()
            report.removed_versions.append(
                f"{plan.plan_id}/{key[0]}{key[1]}@{iso_utc(old_rule.effective_from)}"
            )
    return repriced


def _apply_items(dp: DocPlan, plan: Plan, report: ImportReport) -> None:
    """Vehicle plan items: upserted, never deleted (orders refer to them)."""
    for di in dp.items:
        item = PlanItem.objects.filter(piid=di.piid).first()
        if item is None:
            PlanItem.objects.create(plan=plan, piid=di.piid, name=di.name, price=di.price)
            report.created.append(f"item:{di.piid}")
        elif _set_fields(item, {"name": di.name, "price": di.price}):
            item.save()
            report.updated.append(f"item:{di.piid}")


def _apply_services(services: list[DocService], report: ImportReport, *, retire_missing: bool) -> None:
    listed = set()
    for ds in services:
        listed.add(ds.service)
        values = {
            "unit_price": ds.unit_price,
            "monthly_free_quota": ds.monthly_free_quota,
            "active": ds.active,
        }
        svc = MeteredService.objects.filter(service=ds.service).first()
        if svc is None:
            MeteredService.objects.create(service=ds.service, **values)
            report.created.append(f"service:{ds.service}")
        elif _set_fields(svc, values):
            svc.save()
            report.updated.append(f"service:{ds.service}")
    missing = MeteredService.objects.filter(active=True).exclude(service__in=listed)
    for svc in missing if retire_missing else []:
        svc.active = False
        svc.save(update_fields=["active"])
        report.retired.append(f"service:{svc.service}")
