"""Which price is in force. Nothing outside this app computes it (issue: plans)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from config.exceptions import DomainError
from plans.errors import (
    ComponentAttrsInvalid,
    PlanNotFound,
    PlanRetired,
    PriceAmbiguous,
    PriceNoMatch,
    ProductNotFound,
)
from plans.models import Component, Plan, PlanItem, PlanStatus, PriceRule, PriceVersion, Product


def price_version_in_force(plan: Plan, at: datetime) -> PriceVersion | None:
    """The latest version with ``effective_from <= at`` (docs/plans.md)."""
    return plan.price_versions.filter(effective_from__lte=at).order_by("-effective_from").first()


def price_versions_of(plan_ids: Iterable[int]) -> dict[int, list[PriceVersion]]:
    """Every price version of the plans, newest start first, for batch jobs that price many
    periods at once with ``version_in_force`` (one query instead of one per period)."""
    out: dict[int, list[PriceVersion]] = {plan_id: [] for plan_id in plan_ids}
    for version in PriceVersion.objects.filter(plan_id__in=list(out)).order_by("plan_id", "-effective_from"):
        out[version.plan_id].append(version)
    return out


def version_in_force(versions: list[PriceVersion], at: datetime) -> PriceVersion | None:
    """``price_version_in_force`` over versions already loaded (newest start first)."""
    return next((v for v in versions if v.effective_from <= at), None)


def price_in_force(plan: Plan, at: datetime) -> Decimal | None:
    version = price_version_in_force(plan, at)
    return version.price if version else None


# --- lookups ---------------------------------------------------------------------------------------


def plan_get(plan_id: str) -> Plan:
    """The plan, or 404/3601. Retired plans are returned: callers decide whether retired is fine
    (an existing order keeps renewing at its price; a new order must refuse it)."""
    plan = Plan.objects.select_related("product").filter(plan_id=str(plan_id)).first()
    if plan is None:
        raise PlanNotFound(f"plan {plan_id!r} not found")
    return plan


def plan_get_active(plan_id: str) -> Plan:
    """The plan if it is active; 3601 if unknown, 3609 if retired."""
    plan = plan_get(plan_id)
    if not plan.is_active:
        raise PlanRetired(f"plan {plan.plan_id!r} is retired")
    return plan


def plan_item_get(piid: uuid.UUID | str) -> PlanItem:
    """A vehicle plan item by its ``piid`` (404/3601 if unknown or not a UUID)."""
    try:
        key = piid if isinstance(piid, uuid.UUID) else uuid.UUID(str(piid))
    except ValueError:
        raise PlanNotFound(f"plan item {piid!r} not found (not a UUID)") from None
    item = PlanItem.objects.select_related("plan").filter(piid=key).first()
    if item is None:
        raise PlanNotFound(f"plan item {piid} not found")
    return item


def plan_items_for(plan_id: str) -> list[PlanItem]:
    """The items of a (vehicle) plan, by name; 3601 if the plan is unknown."""
    plan = plan_get(plan_id)
    return list(plan.items.order_by("name", "piid"))


def product_get(prod_id: str) -> Product:
    product = Product.objects.filter(prod_id=str(prod_id)).first()
    if product is None:
        raise ProductNotFound(f"product {prod_id!r} not found")
    return product


# --- component pricing (get_cost) ---------------------------------------------------------------


@dataclass(frozen=True)
class ComponentCost:
    component_id: str
    billing_mode: str
    cycle: str
    unit: str
    price: Decimal
    rule_id: int


@dataclass(frozen=True)
class CostResult:
    components: list[ComponentCost]
    total: Decimal


def attrs_key(attrs: dict[str, Any] | None) -> str:
    """Canonical identity of a rule's condition: values compared as strings, key order ignored.
    Two rules with the same key are versions of one price; the latest in force wins."""
    return json.dumps({str(k): str(v) for k, v in (attrs or {}).items()}, sort_keys=True)


def rules_in_force(rules: Iterable[PriceRule], at: datetime) -> list[PriceRule]:
    """For each distinct attribute condition, the version with the latest ``effective_from <= at``."""
    latest: dict[str, PriceRule] = {}
    for rule in rules:
        if rule.effective_from > at:
            continue
        key = attrs_key(rule.attrs)
        current = latest.get(key)
        if current is None or (rule.effective_from, rule.pk) > (current.effective_from, current.pk):
            latest[key] = rule
    return sorted(latest.values(), key=lambda r: r.pk)


def _describe(attrs: dict[str, Any]) -> str:
    return json.dumps(attrs, sort_keys=True, default=str)


def get_cost(*, prod_id: str, plan_id: str, components: list[dict[str, Any]], at: datetime) -> CostResult:
    """One price per requested component of a product's plan, and their total (docs/plans.md).

    A rule matches when every key of its ``attrs`` equals the given value (compared as strings;
    extra given attributes are ignored). Only the rule versions in force at ``at`` count. Exactly
    one must match: none is 3604, several is 3605, and both name the component and attributes.
    """
    product = product_get(prod_id)
    plan = plan_get(plan_id)
    if plan.product_id != product.pk:
        raise PlanNotFound(
            f"plan {plan.plan_id!r} is not a plan of product {product.prod_id!r}",
            errors={"plan_id": [f"plan {plan.plan_id!r} does not price product {product.prod_id!r}"]},
        )
    if not plan.is_active:
        raise PlanRetired(f"plan {plan.plan_id!r} is retired")

    by_id: dict[str, Component] = {c.component_id: c for c in product.components.all()}
    all_rules = list(PriceRule.objects.filter(plan=plan, effective_from__lte=at))
    rules_by_component: dict[int, list[PriceRule]] = {}
    for rule in all_rules:
        rules_by_component.setdefault(rule.component_id, []).append(rule)

    costs: list[ComponentCost] = []
    for i, requested in enumerate(components):
        component_id = str(requested.get("component_id", ""))
        given = requested.get("attrs") or {}
        if not isinstance(given, dict):
            raise ComponentAttrsInvalid(
                f"components[{i}].attrs must be an object",
                errors={f"components[{i}].attrs": ["must be an object"]},
            )
        component = by_id.get(component_id)
        if component is None:
            raise PriceNoMatch(
                f"product {product.prod_id!r} has no component {component_id!r}",
                errors={f"components[{i}].component_id": [f"unknown component {component_id!r}"]},
            )
        candidates = rules_in_force(rules_by_component.get(component.pk, []), at)
        matching = [r for r in candidates if r.matches(given)]
        if len(matching) != 1:
            raise _match_error(i, plan, component_id, given, matching)
        rule = matching[0]
        costs.append(
            ComponentCost(
                component_id=component.component_id,
                billing_mode=component.billing_mode,
                cycle=component.cycle,
                unit=component.unit,
                price=rule.price,
                rule_id=rule.pk,
            )
        )
    return CostResult(components=costs, total=sum((c.price for c in costs), Decimal("0")))


def _match_error(
    index: int, plan: Plan, component_id: str, given: dict[str, Any], matching: list[PriceRule]
) -> DomainError:
    field = f"components[{index}].attrs"
    if not matching:
        msg = (
            f"no price rule of plan {plan.plan_id!r} matches component {component_id!r} "
            f"with {_describe(given)}"
        )
        return PriceNoMatch(msg, errors={field: [msg]})
    conditions = ", ".join(_describe(r.attrs) for r in matching)
    msg = (
        f"{len(matching)} price rules of plan {plan.plan_id!r} match component {component_id!r} "
        f"with {_describe(given)}: {conditions}"
    )
    return PriceAmbiguous(msg, errors={field: [msg]})


def plans_active_for_region(region: str) -> list[Plan]:
    """Active plans serving ``region`` (a plan without region serves all)."""
    return [p for p in Plan.objects.filter(status=PlanStatus.ACTIVE) if p.serves_region(region)]
