"""A vehicle plan order's promotion (its ``pmid``, issue 20.1; docs/vehicle-orders.md "Promotions"):
checked with the rest of the placement (every error at once, on ``pmid``), priced on the items of
the plans it applies to, kept as the order's ``VehicleOrderDiscount`` line and redeemed by the
payment (``orders.vehicle.transitions``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.utils import timezone

from billing.models import Account
from billing.promotions import promotion_redeemable
from plans.errors import PromotionRefused
from plans.models import PlanItem, Promotion
from plans.promotions import discount_for, promotion_applies, promotion_find


class PricedItem(Protocol):
    @property
    def item(self) -> PlanItem: ...

    @property
    def price(self) -> Decimal: ...


class Errors(Protocol):
    def add(self, field: str, reason: str) -> None: ...


@dataclass(frozen=True)
class DiscountRow:
    promotion: Promotion
    gross: Decimal  # the sum of the order's items
    amount: Decimal  # off the items of the plans the promotion applies to


def promotion_row(
    pm: uuid.UUID | None,
    rows: Sequence[PricedItem],
    item_sum: Decimal | None,
    account: Account,
    errors: Errors,
) -> DiscountRow | None:
    """The plan order's ``pmid``: an active promotion in its window that applies to one of the
    order's plans, with a redemption left for the account (redeemed when the order is paid). The
    discount is taken off the items of the plans it applies to (docs/vehicle-orders.md)."""
    if pm is None or item_sum is None or not rows:
        return None
    plans = list({r.item.plan.plan_id: r.item.plan for r in rows}.values())
    try:
        promotion = promotion_find(field="pmid", at=timezone.now(), plan=plans, pmid=pm)
        promotion_redeemable(account_id=account.pk, promotion=promotion, field="pmid")
    except PromotionRefused as exc:
        for reason in (exc.errors or {}).get("pmid", [exc.message]):
            errors.add("pmid", reason)
        return None
    applicable = sum((r.price for r in rows if promotion_applies(promotion, plan=r.item.plan)), Decimal(0))
    return DiscountRow(promotion, item_sum, discount_for(promotion=promotion, gross=applicable))
