"""Every write to the catalog. Catalog import/export live in ``plans.catalog`` (re-exported here)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from config import clock
from config.exceptions import InvalidInput
from config.money import to_money
from plans.catalog import ImportReport, catalog_export, catalog_import
from plans.errors import PlanExists, PlanRetired, PriceVersionTooSoon, PriceVersionUsed, UnknownProduct
from plans.models import Plan, PlanStatus, PriceRule, PriceVersion, Product

logger = logging.getLogger(__name__)

PLAN_FIELDS = ("name", "description", "plan_type", "region", "billing_mode", "cycle", "unit")


def price_mark_used(*, version_id: int | None = None, rule_id: int | None = None, at: datetime) -> None:
    """Stamp a price version / rule as used by a charge (idempotent). A used price is frozen:
    catalog imports and staff edits must leave it untouched."""
    if version_id is not None:
        PriceVersion.objects.filter(pk=version_id, first_used_at__isnull=True).update(first_used_at=at)
    if rule_id is not None:
        PriceRule.objects.filter(pk=rule_id, first_used_at__isnull=True).update(first_used_at=at)


def _invalid(errors: dict[str, list[str]]) -> InvalidInput:
    msg = "invalid parameters: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
    return InvalidInput(msg, errors=errors)


def _full_clean(plan: Plan) -> None:
    """Model validation as a 3307 naming the fields, plus the mode/cycle rule of the plans API: a plan
    without a product prices itself, so it needs a billing mode and a cycle."""
    errors: dict[str, list[str]] = {}
    try:
        plan.full_clean(exclude=["product"], validate_unique=False)
    except DjangoValidationError as exc:
        errors = {field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()}
    if plan.product_id is None:
        for field in ("billing_mode", "cycle"):
            if not getattr(plan, field) and field not in errors:
                errors[field] = ["required for a plan without a product"]
    if errors:
        raise _invalid(errors)


def _product_for(prod_id: str | None) -> Product | None:
    if not prod_id:
        return None
    product = Product.objects.filter(prod_id=str(prod_id)).first()
    if product is None:
        raise UnknownProduct(
            f"product {prod_id!r} not found",
            errors={"prod_id": [f"unknown product {prod_id!r}"]},
        )
    return product


@transaction.atomic
def plan_create(
    *,
    plan_id: str,
    name: str,
    plan_type: str,
    description: str = "",
    region: str | None = "",
    billing_mode: str = "",
    cycle: str = "",
    unit: str = "instance",
    prod_id: str | None = None,
    actor: Any = None,
) -> Plan:
    """A new active plan (3602 if the id is taken)."""
    if Plan.objects.filter(plan_id=plan_id).exists():
        raise PlanExists(
            f"plan {plan_id!r} already exists",
            errors={"plan_id": [f"plan {plan_id!r} already exists"]},
        )
    plan = Plan(
        plan_id=plan_id,
        name=name,
        description=description or "",
        plan_type=plan_type,
        region=region or "",
        billing_mode=billing_mode or "",
        cycle=cycle or "",
        unit=unit or "instance",
        product=_product_for(prod_id),
    )
    _full_clean(plan)
    try:
        with transaction.atomic():
            plan.save()
    except IntegrityError:  # a concurrent create of the same id won the race
        raise PlanExists(
            f"plan {plan_id!r} already exists",
            errors={"plan_id": [f"plan {plan_id!r} already exists"]},
        ) from None
    logger.info("plan %s created by %s", plan.plan_id, getattr(actor, "username", actor))
    return plan


def _lock_plan(plan: Plan) -> Plan:
    return Plan.objects.select_for_update().select_related("product").get(pk=plan.pk)


def _has_used_prices(plan: Plan) -> bool:
    return (
        plan.price_versions.filter(first_used_at__isnull=False).exists()
        or plan.rules.filter(first_used_at__isnull=False).exists()
    )


@transaction.atomic
def plan_update(*, plan: Plan, changes: dict[str, Any], actor: Any = None) -> Plan:
    """Change a plan's descriptive fields (and ``status`` through retire/activate).

    Billing mode, cycle and unit give a used price its meaning (``10.00`` per *month*), so they are
    frozen once a charge used one of the plan's prices (3610)."""
    plan = _lock_plan(plan)
    unknown = sorted(set(changes) - {*PLAN_FIELDS, "status", "prod_id"})
    if unknown:
        raise _invalid({k: ["unknown or read-only field"] for k in unknown})
    frozen = [f for f in ("billing_mode", "cycle", "unit", "prod_id") if f in changes]
    if frozen and _has_used_prices(plan):
        current = {
            **{f: getattr(plan, f) for f in PLAN_FIELDS},
            "prod_id": plan.product.prod_id if plan.product else None,
        }
        really = [f for f in frozen if (changes[f] or None) != (current[f] or None)]
        if really:
            raise PriceVersionUsed(
                f"plan {plan.plan_id!r} has prices used by charges: {', '.join(really)} cannot change",
                errors={f: ["frozen: a charge used this plan's prices"] for f in really},
            )
    for field in PLAN_FIELDS:
        if field in changes:
            setattr(plan, field, changes[field] or ("instance" if field == "unit" else ""))
    if "prod_id" in changes:
        plan.product = _product_for(changes["prod_id"])
    status = changes.get("status")
    if status is not None:
        if status not in PlanStatus.values:
            raise _invalid({"status": [f"must be one of {', '.join(PlanStatus.values)}"]})
        plan.status = status
    _full_clean(plan)
    plan.save()
    logger.info("plan %s updated by %s: %s", plan.plan_id, getattr(actor, "username", actor), sorted(changes))
    return plan


@transaction.atomic
def plan_retire(*, plan: Plan, actor: Any = None) -> Plan:
    """Retire (never delete): orders keep referring to the plan; new orders refuse it (3609)."""
    plan = _lock_plan(plan)
    if plan.status != PlanStatus.RETIRED:
        plan.status = PlanStatus.RETIRED
        plan.save(update_fields=["status", "updated_at"])
        logger.info("plan %s retired by %s", plan.plan_id, getattr(actor, "username", actor))
    return plan


def earliest_new_version(plan: Plan, now: datetime) -> datetime:
    """A new price must start at least one of the plan's cycles after it is published."""
    return clock.add_cycles(now, plan.cycle, 1)


def _checked_version_input(plan: Plan, price: Decimal | str | int, effective_from: datetime) -> Decimal:
    """The price as money, or a 3307 naming every bad field (price, start, a plan without cycle)."""
    errors: dict[str, list[str]] = {}
    try:
        amount = to_money(price)
        if amount != Decimal(price) or amount < 0:
            errors["price"] = ["must be >= 0 with at most 4 decimal places"]
    except (TypeError, ValueError):
        errors["price"] = ["must be a decimal amount"]
        amount = Decimal(0)
    if effective_from.tzinfo is None:
        errors["effective_from"] = ["must carry a UTC offset"]
    if not plan.cycle:
        errors["plan_id"] = [f"plan {plan.plan_id!r} is priced by component rules, not versions"]
    if errors:
        raise _invalid(errors)
    return amount


@transaction.atomic
def price_version_add(
    *,
    plan: Plan,
    price: Decimal | str | int,
    effective_from: datetime,
    actor: Any,
    force: bool = False,
    now: datetime | None = None,
) -> PriceVersion:
    """Publish a price from ``effective_from`` on (docs/plans.md "Price versions").

    It must start at least one cycle after now, unless staff ``force`` it (recorded with the actor).
    Re-publishing at the same start replaces an unused version's price; a used one is frozen (3610).
    """
    now = now or clock.now()
    plan = _lock_plan(plan)
    amount = _checked_version_input(plan, price, effective_from)
    if not plan.is_active:
        raise PlanRetired(f"plan {plan.plan_id!r} is retired")
    earliest = earliest_new_version(plan, now)
    if effective_from < earliest and not force:
        raise PriceVersionTooSoon(
            f"a new price of plan {plan.plan_id!r} must start at or after {earliest.isoformat()} "
            f"(one {plan.cycle} ahead) unless forced",
            errors={"effective_from": [f"must be >= {earliest.isoformat()} unless force is true"]},
        )
    existing = (
        PriceVersion.objects.select_for_update().filter(plan=plan, effective_from=effective_from).first()
    )
    if existing is not None:
        if existing.first_used_at is not None:
            raise PriceVersionUsed(
                f"the price of plan {plan.plan_id!r} from {effective_from.isoformat()} was used by a charge",
                errors={"effective_from": ["a used price version is never edited"]},
            )
        existing.price = amount
        existing.forced = force and effective_from < earliest
        existing.created_by = actor if getattr(actor, "pk", None) else None
        existing.save(update_fields=["price", "forced", "created_by"])
        version = existing
    else:
        version = PriceVersion.objects.create(
            plan=plan,
            price=amount,
            effective_from=effective_from,
            forced=force and effective_from < earliest,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
    logger.info(
        "plan %s price %s from %s by %s%s",
        plan.plan_id,
        amount,
        effective_from.isoformat(),
        getattr(actor, "username", actor),
        " (forced)" if version.forced else "",
    )
    return version


__all__ = [
    "ImportReport",
    "catalog_export",
    "catalog_import",
    "earliest_new_version",
    "plan_create",
    "plan_retire",
    "plan_update",
    "price_mark_used",
    "price_version_add",
]
