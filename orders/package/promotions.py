"""The order's promotion on package renewals and configuration changes (docs/package-orders.md
"Coupons"): the ``Redemption`` the order's charge took applies to the prepaid periods of the
components it targets while its duration covers them, as it does on purchase orders.

Period numbering is the line's: the create's period is 1 (the redemption's ``first_period``), a
renewal of K cycles pays periods ``periods_billed + 1 .. periods_billed + K``, each discounted or
not on its own (``billing.promotions.redemption_discount``: also after the promotion's window
closed or it was set inactive, since the order redeemed it). Only reads: the quotes in
``orders.package.quote`` call these, so a ``drytry`` preview and the real call agree.
"""

from __future__ import annotations

from decimal import Decimal

from billing.models import Redemption
from billing.promotions import redemption_covers, redemption_discount, redemption_for
from config.money import ZERO, to_money
from orders.engine.billing import period_amount
from orders.engine.models import Subscription, SubscriptionLine
from plans.models import BillingMode
from plans.promotions import discount_for, promotion_applies


def order_redemption(sub: Subscription) -> Redemption | None:
    """The redemption the instance's order made at its charge (none without a coupon)."""
    return redemption_for(subject=("package_order", sub.order_ref))


def targets_line(redemption: Redemption | None, *, line: SubscriptionLine, prod_id: str) -> bool:
    """Whether the promotion names the line's component (``prod/comp``) or its plan now (a config
    change to a plan the promotion does not name ends the discount, as a purchase plan switch
    does). Only prepaid lines here, the renewals' and changes' concern: hourly hours and postpaid
    periods are discounted where the billing-jobs runner bills them (``orders.engine.promotions``)."""
    if redemption is None or line.billing_mode != BillingMode.PREPAID:
        return False
    return promotion_applies(redemption.promotion, plan=line.plan, component=f"{prod_id}/{line.component_id}")


def renew_discount(
    redemption: Redemption | None,
    *,
    line: SubscriptionLine,
    prod_id: str,
    unit_price: Decimal,
    first_index: int,
    cycles: int,
) -> tuple[Decimal, list[int]]:
    """The discount on a renewal of ``cycles`` periods of ``line`` from period ``first_index``:
    the sum of each covered period's ``redemption_discount`` of its gross (one cycle at
    ``unit_price``), never above the renewal's gross. Also the indexes of the discounted periods."""
    if not targets_line(redemption, line=line, prod_id=prod_id):
        return ZERO, []
    per_period = period_amount(unit_price=unit_price, quantity=1)
    discount, discounted = ZERO, []
    for index in range(first_index, first_index + cycles):
        off = redemption_discount(redemption, period_index=index, gross=per_period)
        if off > 0:
            discount += off
            discounted.append(index)
    gross = period_amount(unit_price=unit_price, quantity=cycles)
    return to_money(min(discount, gross)), discounted


def change_amounts(
    redemption: Redemption | None,
    *,
    line: SubscriptionLine,
    prod_id: str,
    before: Decimal,
    after: Decimal,
    unused: list[tuple[int, Decimal]],
) -> tuple[Decimal, Decimal]:
    """(amount, discount) of a config change's record re-pricing the rest of the paid span from
    ``before`` to ``after`` (per cycle), ``unused`` the part of each paid period left
    (``quote.unused_by_period``). In the periods the promotion covers the span is re-priced net:
    from ``before - discount_for(before)`` to ``after - discount_for(after)`` a cycle.

    A charge (``after > before``) keeps the list difference as its gross and the coupon's share as
    ``discount`` (a percent coupon takes its percent of the charge; a fixed amount, already taken
    off the period, takes nothing more). A credit carries no discount: it refunds the net
    difference, never the coupon's share of the old price, which was not paid."""
    fraction = sum((part for _, part in unused), ZERO)
    gross = to_money((after - before) * fraction)
    if not targets_line(redemption, line=line, prod_id=prod_id):
        return gross, ZERO
    assert redemption is not None  # noqa: S101 - targets_line checked it
    covered = sum((part for index, part in unused if redemption_covers(redemption, period_index=index)), ZERO)
    if covered <= 0:
        return gross, ZERO
    promotion = redemption.promotion
    net_before = before - discount_for(promotion=promotion, gross=before)
    net_after = after - discount_for(promotion=promotion, gross=after)
    amount = to_money((after - before) * (fraction - covered) + (net_after - net_before) * covered)
    if gross <= 0:
        return amount, ZERO
    return amount, min(max(gross - amount, ZERO), gross)
