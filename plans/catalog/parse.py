"""The document's shape and internal consistency, with no database reads.

Every problem is collected with its JSON path; a document with any problem parses to ``None``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from plans.catalog.document import (
    CatalogDocument,
    DocComponent,
    DocItem,
    DocPlan,
    DocPrice,
    DocProduct,
    DocRule,
    DocService,
)
from plans.catalog.fields import ID_HINT, ID_RE, SLUG_RE, FieldValidator
from plans.catalog.promotions import parse_promotions
from plans.models import BillingMode, Cycle, PlanStatus


def parse_document(document: Any) -> tuple[CatalogDocument | None, dict[str, list[str]]]:
    """The document's shape and internal consistency (no database reads)."""
    v = FieldValidator()
    root = v.obj(document, "$")
    if root is None:
        return None, v.errors
    products = _parse_products(v, root)
    plans = _parse_plans(v, root)
    services = _parse_services(v, root)
    promotions = parse_promotions(v, root)
    if v.errors:
        return None, v.errors
    document = CatalogDocument(
        products=products, plans=plans or [], metered_services=services, promotions=promotions
    )
    return document, {}


def _parse_products(v: FieldValidator, root: dict[str, Any]) -> list[DocProduct] | None:
    raw = v.lst(root, "products", "")
    if raw is None:
        return None
    out: list[DocProduct] = []
    seen: set[str] = set()
    for at, d in v.objects(raw, "products"):
        p = f"{at}."
        prod_id = v.text(d, "prod_id", p, max_len=50, pattern=ID_RE, hint=ID_HINT)
        if prod_id in seen:
            v.err(f"{p}prod_id", f"duplicate product {prod_id!r}")
        seen.add(prod_id)
        components = _parse_components(v, d, p)  # before name: problems are reported in this order
        out.append(
            DocProduct(
                prod_id=prod_id,
                name=v.text(d, "name", p, required=False, default=prod_id) or prod_id,
                description=v.text(d, "description", p, required=False, max_len=10_000),
                components=components,
            )
        )
    return out


def _parse_components(v: FieldValidator, d: dict[str, Any], p: str) -> list[DocComponent]:
    components: list[DocComponent] = []
    comp_seen: set[str] = set()
    for at, c in v.objects(v.lst(d, "components", p) or [], f"{p}components"):
        cp = f"{at}."
        cid = v.text(c, "component_id", cp, max_len=50, pattern=ID_RE, hint=ID_HINT)
        if cid in comp_seen:
            v.err(f"{cp}component_id", f"duplicate component {cid!r}")
        comp_seen.add(cid)
        components.append(
            DocComponent(
                component_id=cid,
                name=v.text(c, "name", cp, required=False, default=cid) or cid,
                billing_mode=v.choice(c, "billing_mode", cp, BillingMode.values, required=True),
                cycle=v.choice(c, "cycle", cp, Cycle.values, required=True),
                unit=v.text(c, "unit", cp, required=False, max_len=30, default="instance") or "instance",
            )
        )
    return components


def _parse_plans(v: FieldValidator, root: dict[str, Any]) -> list[DocPlan] | None:
    raw = v.lst(root, "plans", "", required=True)
    if raw is None:
        return None
    out: list[DocPlan] = []
    seen: set[str] = set()
    piids: dict[uuid.UUID, str] = {}  # item ids are unique across the whole document
    for at, d in v.objects(raw, "plans"):
        out.append(_parse_plan(v, d, at, seen, piids))
    return out


def _parse_plan(
    v: FieldValidator, d: dict[str, Any], path: str, seen: set[str], piids: dict[uuid.UUID, str]
) -> DocPlan:
    """One plan; its fields are read (and their problems reported) in the document's order."""
    p = f"{path}."
    plan_id = v.text(d, "plan_id", p, max_len=50, pattern=ID_RE, hint=ID_HINT)
    if plan_id in seen:
        v.err(f"{p}plan_id", f"duplicate plan {plan_id!r}")
    seen.add(plan_id)
    prod_id = v.text(d, "prod_id", p, required=False, max_len=50, pattern=ID_RE) or None
    rules_raw = v.lst(d, "rules", p) or []
    has_rules = prod_id is not None
    billing_mode = v.choice(d, "billing_mode", p, BillingMode.values, required=not has_rules)
    cycle = v.choice(d, "cycle", p, Cycle.values, required=not has_rules)
    if rules_raw and not prod_id:
        v.err(f"{p}prod_id", "required when the plan has rules (the product whose components they price)")
    prices = _parse_prices(v, d, p)
    if prices and not cycle and has_rules:
        v.err(f"{p}cycle", "required when the plan has prices")
    rules = _parse_rules(v, rules_raw, p)
    items = _parse_items(v, d, p, piids)
    region = _parse_region(v, d, p)
    return DocPlan(
        plan_id=plan_id,
        name=v.text(d, "name", p),
        description=v.text(d, "description", p, required=False, max_len=10_000),
        plan_type=v.text(d, "plan_type", p, max_len=50, pattern=SLUG_RE, hint="use a lower-case slug"),
        region=region,
        billing_mode=billing_mode,
        cycle=cycle,
        unit=v.text(d, "unit", p, required=False, max_len=30, default="instance") or "instance",
        status=v.choice(d, "status", p, PlanStatus.values, required=False) or PlanStatus.ACTIVE,
        prod_id=prod_id,
        prices=prices,
        rules=rules,
        items=items,
        path=path,
    )


def _parse_prices(v: FieldValidator, d: dict[str, Any], p: str) -> list[DocPrice]:
    prices: list[DocPrice] = []
    starts: set[datetime] = set()
    for at, pd in v.objects(v.lst(d, "prices", p) or [], f"{p}prices"):
        pp = f"{at}."
        price = DocPrice(v.money(pd, "price", pp), v.time(pd, "effective_from", pp), at)
        if price.effective_from in starts:
            v.err(f"{pp}effective_from", "two prices start at the same time")
        starts.add(price.effective_from)
        prices.append(price)
    return prices


def _parse_rules(v: FieldValidator, rules_raw: list[Any], p: str) -> list[DocRule]:
    rules: list[DocRule] = []
    rule_keys: set[tuple[str, str, datetime]] = set()
    for at, rd in v.objects(rules_raw, f"{p}rules"):
        rp = f"{at}."
        rule = DocRule(
            component_id=v.text(rd, "component_id", rp, max_len=50, pattern=ID_RE),
            attrs=v.attrs(rd, "attrs", rp),
            price=v.money(rd, "price", rp),
            effective_from=v.time(rd, "effective_from", rp),
            path=at,
        )
        if rule.key in rule_keys:
            v.err(f"{rp}attrs", "another rule of this component has the same attrs and start")
        rule_keys.add(rule.key)
        rules.append(rule)
    return rules


def _parse_items(v: FieldValidator, d: dict[str, Any], p: str, piids: dict[uuid.UUID, str]) -> list[DocItem]:
    items: list[DocItem] = []
    for at, idd in v.objects(v.lst(d, "items", p) or [], f"{p}items"):
        ip = f"{at}."
        piid_raw = idd.get("piid")
        try:
            piid = uuid.UUID(str(piid_raw)) if isinstance(piid_raw, str) else None
        except ValueError:
            piid = None
        if piid is None:
            v.err(f"{ip}piid", "required, a UUID")
            piid = uuid.UUID(int=0)
        elif piid in piids:
            v.err(f"{ip}piid", f"duplicate item (also {piids[piid]})")
        piids[piid] = at
        items.append(DocItem(piid, v.text(idd, "name", ip), v.money(idd, "price", ip), at))
    return items


def _parse_region(v: FieldValidator, d: dict[str, Any], p: str) -> str:
    region = d.get("region")
    if region is not None and (not isinstance(region, str) or len(region) > 50):
        v.err(f"{p}region", "must be a region name (at most 50 characters) or null for every region")
        region = ""
    return region or ""


def _parse_services(v: FieldValidator, root: dict[str, Any]) -> list[DocService] | None:
    raw = v.lst(root, "metered_services", "")
    if raw is None:
        return None
    out: list[DocService] = []
    seen: set[str] = set()
    for at, d in v.objects(raw, "metered_services"):
        p = f"{at}."
        name = v.text(d, "service", p, max_len=50, pattern=ID_RE)
        if name in seen:
            v.err(f"{p}service", f"duplicate service {name!r}")
        seen.add(name)
        quota = d.get("monthly_free_quota", 0)
        if isinstance(quota, bool) or not isinstance(quota, int) or not 0 <= quota <= 2_147_483_647:
            v.err(f"{p}monthly_free_quota", "must be a whole number >= 0")
            quota = 0
        active = d.get("active", True)
        if not isinstance(active, bool):
            v.err(f"{p}active", "must be true or false")
            active = True
        out.append(DocService(name, v.money(d, "unit_price", p), quota, active))
    return out
