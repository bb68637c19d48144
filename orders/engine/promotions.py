"""An order's promotion on the lines the engine bills after the create: postpaid periods, hourly
hours and the late-usage corrections of billed periods (issue 20.1; docs/decisions.md "Promotions
on postpaid and hourly lines").

The order redeemed the promotion when it was created (``billing.promotions.promotion_redeem``);
here it is only applied. A period of a line is discounted while the promotion's duration covers
the line's period index (1 = the line's first billed period: the first cycle of a postpaid line,
the first hour of an hourly one), and, on a package order, only on the lines of the components
the promotion targets (``plans.promotions.promotion_applies``, as the create checks them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from billing.models import Redemption
from billing.promotions import redemption_discount, redemption_for, redemptions_of
from config.clock import add_cycles
from config.money import ZERO
from orders.engine.models import SubscriptionKind, SubscriptionLine
from plans.models import Promotion
from plans.promotions import promotion_applies


class _Lookup:
    """The default of ``redemption=``: read the order's redemption (one query). A set-based caller
    passes what it read for its whole chunk instead (``chunk_redemptions``)."""

    def __repr__(self) -> str:
        return "LOOKUP"


LOOKUP = _Lookup()
RedemptionArg = Redemption | None | _Lookup


def order_subject_of(*, kind: str, order_ref: str) -> tuple[str, str]:
    """The ``(family, order id)`` an order's redemption (and its charges) are keyed by."""
    return ("package_order" if kind == SubscriptionKind.PACKAGE else "purchase_order", order_ref)


def line_redemption(line: SubscriptionLine, redemption: RedemptionArg = LOOKUP) -> Redemption | None:
    """``redemption`` if given, else the redemption of the line's order."""
    if not isinstance(redemption, _Lookup):
        return redemption
    sub = line.subscription
    return redemption_for(subject=order_subject_of(kind=sub.kind, order_ref=sub.order_ref))


def chunk_redemptions(subjects: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Redemption]:
    """The redemptions of a chunk's orders in one query, by ``order_subject_of``."""
    return redemptions_of(subjects)


def line_discount(
    redemption: Redemption | None, *, line: SubscriptionLine, period_index: int, gross: Decimal
) -> Decimal:
    """The discount on the ``period_index``-th period of ``line`` priced ``gross``: 0 without a
    redemption, outside the promotion's duration, or on a component the promotion does not target;
    never more than ``gross`` and never on a gross <= 0 (``plans.promotions.discount_for``)."""
    if redemption is None or not _applies_to_line(redemption.promotion, line):
        return ZERO
    return redemption_discount(redemption, period_index=period_index, gross=gross)


def _applies_to_line(promotion: Promotion, line: SubscriptionLine) -> bool:
    """A purchase order's line is its plan, which the create checked; a package line is one
    component of the product its plan prices (``prod_id/component_id``)."""
    if not line.component_id:
        return True
    if not any((promotion.plan_ids, promotion.plan_types, promotion.products, promotion.components)):
        return True
    plan = line.plan  # read once per line object (the jobs runner joins it with its product)
    prod_id = plan.product.prod_id if plan.product is not None else ""
    return promotion_applies(promotion, plan=plan, component=f"{prod_id}/{line.component_id}")


SECONDS_PER_CYCLE = {"hour": 3600, "day": 86400, "month": 2629746, "year": 31556952}  # estimates


def period_index_at(*, anchor: datetime, cycle: str, start: datetime) -> int:
    """The 1-based index of the line's period that starts at ``start`` (a billed period's record
    keeps its start, not its index; ``engine.billing.period_of`` is the inverse): estimated from
    the average cycle, then stepped onto the boundary."""

    def start_of(index: int) -> datetime:
        return anchor if index == 1 else add_cycles(anchor, cycle, index - 1)

    if start <= anchor:
        return 1
    seconds = int((start - anchor).total_seconds())
    index = max(1, seconds // SECONDS_PER_CYCLE.get(cycle, SECONDS_PER_CYCLE["month"]) + 1)
    while index > 1 and start_of(index) > start:
        index -= 1
    while start_of(index + 1) <= start:
        index += 1
    return index
