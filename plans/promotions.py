"""Promotions without the database beyond the catalog (docs/plans.md "Promotions"): which one a
coupon or ``pmid`` names, whether it applies to a plan (or component) and a period, and the
discount on a period's gross amount. Redemptions (rows per account) are ``billing.promotions``.

The discount is computed here and nowhere else, so a charge and its ``drytry`` preview agree:
percent off rounds half-up to the money scale (4 places, ``config.money.to_money``); a fixed
amount is taken off each covered period; the discount never exceeds the gross amount, so no
period is ever priced below zero (docs/decisions.md "Promotions").
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from config.money import ZERO, to_money
from plans.errors import PromotionRefused
from plans.models import (
    Plan,
    Promotion,
    PromotionDuration,
    PromotionKind,
    PromotionStatus,
    promotion_code,
)

HUNDRED = Decimal(100)


def discount_for(*, promotion: Promotion, gross: Decimal) -> Decimal:
    """The discount on one period's ``gross`` amount (4 places, ``0 <= discount <= gross``)."""
    gross = to_money(gross)
    if gross <= 0:
        return ZERO
    if promotion.kind == PromotionKind.PERCENT:
        discount = to_money(gross * Decimal(promotion.value) / HUNDRED)
    else:
        discount = to_money(promotion.value)
    return min(discount, gross)


def promotion_covers(promotion: Promotion, *, period_number: int) -> bool:
    """Whether the ``period_number``-th charged period since the redemption (1 = the one the
    order was created with) is discounted: ``once`` the first, ``periods`` the first N,
    ``forever`` every one."""
    if period_number < 1:
        return False
    if promotion.duration == PromotionDuration.ONCE:
        return period_number == 1
    if promotion.duration == PromotionDuration.PERIODS:
        return period_number <= (promotion.duration_periods or 0)
    return True


def promotion_applies(promotion: Promotion, *, plan: Plan, component: str | None = None) -> bool:
    """Whether the promotion's targets name the plan (its id, type or product) or the component
    (``"prod_id/component_id"``); a promotion with no targets applies to every plan."""
    targets = (promotion.plan_ids, promotion.plan_types, promotion.products, promotion.components)
    if not any(targets):
        return True
    prod_id = component.split("/", 1)[0] if component else None
    if plan.product is not None and prod_id is None:
        prod_id = plan.product.prod_id
    return (
        plan.plan_id in (promotion.plan_ids or [])
        or plan.plan_type in (promotion.plan_types or [])
        or (prod_id is not None and prod_id in (promotion.products or []))
        or (component is not None and component in (promotion.components or []))
    )


def promotion_find(
    *,
    field: str,
    at: datetime,
    plan: Plan | Sequence[Plan],
    code: str | None = None,
    pmid: uuid.UUID | str | None = None,
    components: list[str] | None = None,
) -> Promotion:
    """The active promotion a ``coupon`` (``code``) or ``pmid`` names, redeemable at ``at`` and
    applying to ``plan`` (one of several plans, or one of ``components``). Raises
    ``PromotionRefused`` on ``field`` with the reason; the redemption limits are checked when
    redeeming (under the account lock)."""
    promotion = _lookup(field=field, code=code, pmid=pmid)
    if promotion.status != PromotionStatus.ACTIVE:
        raise PromotionRefused.on(field, f"promotion {promotion.code!r} is not active")
    if promotion.valid_from is not None and at < promotion.valid_from:
        raise PromotionRefused.on(field, f"promotion {promotion.code!r} is not valid yet")
    if promotion.valid_until is not None and at >= promotion.valid_until:
        raise PromotionRefused.on(field, f"promotion {promotion.code!r} has expired")
    wanted: list[str | None] = list(components) if components else [None]
    plans = [plan] if isinstance(plan, Plan) else list(plan)
    if not any(promotion_applies(promotion, plan=p, component=c) for p in plans for c in wanted):
        names = ", ".join(repr(p.plan_id) for p in plans)
        plural = "s" if len(plans) > 1 else ""
        raise PromotionRefused.on(
            field, f"promotion {promotion.code!r} does not apply to plan{plural} {names}"
        )
    return promotion


def _lookup(*, field: str, code: str | None, pmid: uuid.UUID | str | None) -> Promotion:
    qs = Promotion.objects.all()
    if pmid is not None:
        try:
            key = pmid if isinstance(pmid, uuid.UUID) else uuid.UUID(str(pmid))
        except ValueError:
            raise PromotionRefused.on(field, "must be a UUID") from None
        found = qs.filter(pmid=key).first()
    elif isinstance(code, str) and code.strip():
        found = qs.filter(code=promotion_code(code)).first()
    else:
        raise PromotionRefused.on(field, "must be a coupon code")
    if found is None:
        raise PromotionRefused.on(field, "no such promotion")
    return found
