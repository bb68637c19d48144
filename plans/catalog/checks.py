"""A parsed document checked against the database: references exist, used prices stay frozen,
and changed prices start one cycle ahead unless forced (docs/plans.md "Price versions")."""

from __future__ import annotations

from datetime import datetime

from config import clock
from plans.catalog.document import CatalogDocument, DocPlan
from plans.catalog.fields import FieldValidator
from plans.catalog.promotions import check_promotions
from plans.models import Component, Plan, PlanItem, PlanStatus, PriceRule, Product
from plans.selectors import attrs_key


def check_against_db(
    doc: CatalogDocument, *, now: datetime, force: bool, retire_missing: bool = True
) -> dict[str, list[str]]:
    v = FieldValidator()
    if retire_missing and not doc.plans and Plan.objects.filter(status=PlanStatus.ACTIVE).exists():
        # A plan service that answers an empty list is far more likely broken than retiring
        # the whole catalog on purpose (staff retire plans one by one in the admin or API).
        v.err("plans", "empty: that would retire every active plan; refused")
    doc_components: dict[str, set[str]] = {}
    for product in doc.products or []:
        doc_components[product.prod_id] = {c.component_id for c in product.components}
    db_components: dict[str, set[str]] = {}
    for prod_id, cid in Component.objects.values_list("product__prod_id", "component_id"):
        db_components.setdefault(prod_id, set()).add(cid)
    known_products = set(Product.objects.values_list("prod_id", flat=True)) | set(doc_components)
    item_owner = dict(PlanItem.objects.values_list("piid", "plan__plan_id"))
    plans = {p.plan_id: p for p in Plan.objects.select_related("product")}

    for dp in doc.plans:
        p = f"{dp.path}."
        if dp.prod_id and dp.prod_id not in known_products:
            v.err(f"{p}prod_id", f"unknown product {dp.prod_id!r}")
        components = doc_components.get(dp.prod_id or "", set()) | db_components.get(dp.prod_id or "", set())
        for rule in dp.rules:
            if dp.prod_id in known_products and rule.component_id not in components:
                v.err(
                    f"{rule.path}.component_id",
                    f"product {dp.prod_id!r} has no component {rule.component_id!r}",
                )
        for item in dp.items:
            owner = item_owner.get(item.piid)
            if owner is not None and owner != dp.plan_id:
                v.err(f"{item.path}.piid", f"item {item.piid} belongs to plan {owner!r}")
        plan = plans.get(dp.plan_id)
        if plan is None:
            continue
        _check_frozen(v, dp, plan)
        _check_new_prices(v, dp, plan, now=now, force=force)
    if doc.promotions is not None:
        in_doc = {dp.plan_id for dp in doc.plans}
        check_promotions(v, doc.promotions, doc_plans=in_doc, doc_products=set(doc_components))
    return v.errors


def _check_frozen(v: FieldValidator, dp: DocPlan, plan: Plan) -> None:
    """Mode, cycle, unit and product give a used price its meaning; they cannot change."""
    used = (
        plan.price_versions.filter(first_used_at__isnull=False).exists()
        or plan.rules.filter(first_used_at__isnull=False).exists()
    )
    if not used:
        return
    current = {
        "billing_mode": plan.billing_mode,
        "cycle": plan.cycle,
        "unit": plan.unit,
        "prod_id": plan.product.prod_id if plan.product else None,
    }
    wanted = {"billing_mode": dp.billing_mode, "cycle": dp.cycle, "unit": dp.unit, "prod_id": dp.prod_id}
    for key, value in wanted.items():
        if (value or None) != (current[key] or None):
            v.err(f"{dp.path}.{key}", f"frozen at {current[key]!r}: a charge used this plan's prices")


def _check_new_prices(v: FieldValidator, dp: DocPlan, plan: Plan, *, now: datetime, force: bool) -> None:
    """A changed price (new version or new amount of an unused one) must start one cycle ahead
    unless forced; the first price of a plan or of a rule condition may start any time."""
    existing = {pv.effective_from: pv for pv in plan.price_versions.all()}
    cycle = dp.cycle or plan.cycle
    if existing and cycle:
        earliest = clock.add_cycles(now, cycle, 1)
        for price in dp.prices:
            old = existing.get(price.effective_from)
            changed = old is None or (old.price != price.price and old.first_used_at is None)
            if changed and price.effective_from < earliest and not force:
                v.err(
                    f"{price.path}.effective_from",
                    f"a new price must start at or after {earliest.isoformat()} (one {cycle} ahead)",
                )
    rules = list(plan.rules.select_related("component"))
    by_cond: dict[tuple[str, str], dict[datetime, PriceRule]] = {}
    for r in rules:
        by_cond.setdefault((r.component.component_id, attrs_key(r.attrs)), {})[r.effective_from] = r
    cycles = dict(Component.objects.filter(rules__plan=plan).values_list("component_id", "cycle"))
    for rule in dp.rules:
        versions = by_cond.get((rule.component_id, attrs_key(rule.attrs)))
        if not versions or rule.component_id not in cycles:
            continue
        old_rule = versions.get(rule.effective_from)
        changed = old_rule is None or (old_rule.price != rule.price and old_rule.first_used_at is None)
        earliest = clock.add_cycles(now, cycles[rule.component_id], 1)
        if changed and rule.effective_from < earliest and not force:
            v.err(
                f"{rule.path}.effective_from",
                f"a new price must start at or after {earliest.isoformat()} "
                f"(one {cycles[rule.component_id]} ahead)",
            )
