"""What a package-order operation would cost, computed without writing anything.

``orders.package.services`` prices every create, renewal and configuration change with these
functions (under its locks), and the previews (``drytry=1``, ``orders.package.previews``) call the
same functions without locks and write nothing, so a preview answers exactly what the real call then
charges or refunds. Every function here only reads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.promotions import promotion_redeemable
from config.exceptions import InvalidInput
from config.money import ZERO, to_money
from orders.engine.billing import period_amount, period_of
from orders.engine.models import LineStatus, Subscription, SubscriptionLine
from orders.package.errors import NothingToRenew, PackageInstanceStateError
from orders.package.models import InstanceStatus, ProductInstance
from orders.package.promotions import change_amounts, order_redemption, renew_discount
from orders.package.specs import ComponentChange, ProductSpec
from plans.models import BillingMode, Component, Cycle, Plan, Promotion
from plans.promotions import discount_for, promotion_applies, promotion_find
from plans.selectors import ComponentCost, CostResult, get_cost

MAX_RENEW_CYCLES = 120
DURATION_RE = re.compile(r"^([1-9][0-9]{0,3})([MY]?)$")


# --- create ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PricedProduct:
    product: ProductSpec
    plan: Plan
    cost: CostResult


@dataclass(frozen=True)
class ComponentQuote:
    """One component line of one instance and what its first record charges."""

    prod_inst_id_ext: str
    cost: ComponentCost
    cycle: str  # the line's cycle (hourly components bill by the hour)
    amount: Decimal  # the first period, payable at the order's charge; 0 for postpaid (billed later)
    discount: Decimal = ZERO  # the coupon's, taken off ``amount`` (which is net)


@dataclass(frozen=True)
class CreateQuote:
    priced: list[PricedProduct]
    components: list[ComponentQuote]
    total: Decimal  # cost and amount payable of the new order (net of the coupon's discount)
    promotion: Promotion | None = None  # the ``coupon``'s, redeemed by the order's charge
    discount: Decimal = ZERO


def line_cycle(cost: ComponentCost) -> str:
    return Cycle.HOUR if cost.billing_mode == BillingMode.HOURLY else cost.cycle


def _check_instance_ids(products: Sequence[ProductSpec], account_id: int | None) -> None:
    """Instance ids are the client's, unique per account (issue 13): a clash names only the
    caller's own id, and another tenant's ids are neither visible nor reserved."""
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    for i, product in enumerate(products):
        for j, inst in enumerate(product.instances):
            key = f"order_product_set[{i}].prod_instance_ext_array[{j}].id"
            if inst.prod_inst_id_ext in seen:
                errors[key] = [f"instance id {inst.prod_inst_id_ext!r} is given twice"]
            seen.add(inst.prod_inst_id_ext)
    taken = set(
        ProductInstance.objects.filter(account_id=account_id, prod_inst_id_ext__in=seen).values_list(
            "prod_inst_id_ext", flat=True
        )
    )
    for i, product in enumerate(products):
        for j, inst in enumerate(product.instances):
            if inst.prod_inst_id_ext in taken:
                errors[f"order_product_set[{i}].prod_instance_ext_array[{j}].id"] = [
                    f"instance id {inst.prod_inst_id_ext!r} already exists"
                ]
    if errors:
        raise InvalidInput("invalid parameters", errors=errors)


def quote_create(
    *, products: Sequence[ProductSpec], at: datetime, account_id: int | None, coupon: str | None = None
) -> CreateQuote:
    """Check the instance ids and price every component with ``get_cost`` (any pricing error is
    raised here, before anything is written), and the ``coupon`` (3307 on ``coupon``)."""
    _check_instance_ids(products, account_id)
    priced: list[PricedProduct] = []
    for i, product in enumerate(products):
        component_ids = list(
            Component.objects.filter(product__prod_id=product.prod_id).values_list("component_id", flat=True)
        )
        result = get_cost(
            prod_id=product.prod_id,
            plan_id=product.plan_id,
            components=[{"component_id": c, "attrs": product.attrs} for c in component_ids],
            at=at,
        )
        if not result.components:
            raise InvalidInput(
                f"product {product.prod_id!r} has no billed components",
                errors={f"order_product_set[{i}].prod_id": ["the product has no components"]},
            )
        priced.append(PricedProduct(product, Plan.objects.get(plan_id=product.plan_id), result))
    promotion = coupon_for(account_id=account_id, coupon=coupon, priced=priced, at=at) if coupon else None
    components = []
    for p in priced:
        for inst in p.product.instances:
            for cost in p.cost.components:
                discount = component_discount(promotion, priced=p, cost=cost)
                components.append(
                    ComponentQuote(
                        prod_inst_id_ext=inst.prod_inst_id_ext,
                        cost=cost,
                        cycle=line_cycle(cost),
                        amount=first_period_amount(cost) - discount,
                        discount=discount,
                    )
                )
    return CreateQuote(
        priced=priced,
        components=components,
        total=to_money(sum((c.amount for c in components), Decimal(0))),
        promotion=promotion,
        discount=to_money(sum((c.discount for c in components), Decimal(0))),
    )


def coupon_for(
    *, account_id: int | None, coupon: str, priced: Sequence[PricedProduct], at: datetime
) -> Promotion:
    """The promotion a create's ``coupon`` names, applying to one of the order's plans or
    components (``prod_id/component_id``) now, with a redemption left for the account (the
    charge redeems it under the account lock)."""
    components = [f"{p.product.prod_id}/{c.component_id}" for p in priced for c in p.cost.components]
    promotion = promotion_find(
        field="coupon", at=at, plan=[p.plan for p in priced], code=coupon, components=components
    )
    if account_id is not None:
        promotion_redeemable(account_id=account_id, promotion=promotion, field="coupon")
    return promotion


def component_discount(promotion: Promotion | None, *, priced: PricedProduct, cost: ComponentCost) -> Decimal:
    """The coupon's discount on one component's first period, paid with the order (prepaid and
    hourly). A postpaid component has nothing to pay then (0): its periods are billed after they
    end by the jobs runner, which applies the order's redemption to the components the promotion
    targets while its duration covers the period (``orders.engine.promotions``)."""
    if promotion is None:
        return ZERO
    component = f"{priced.product.prod_id}/{cost.component_id}"
    if not promotion_applies(promotion, plan=priced.plan, component=component):
        return ZERO
    return discount_for(promotion=promotion, gross=first_period_amount(cost))


def first_period_amount(cost: ComponentCost) -> Decimal:
    """Prepaid and hourly components pay their first period (one cycle) with the order; a postpaid
    one pays nothing then (its metered periods are billed in arrears, from the charge's time)."""
    if cost.billing_mode in (BillingMode.PREPAID, BillingMode.HOURLY):
        return period_amount(unit_price=cost.price, quantity=1)
    return to_money(0)


# --- renew -----------------------------------------------------------------------------------------


def duration_cycles(*, duration: str, cycle: str) -> int:
    """``"N"`` is N of the line's cycles; ``"NM"`` months; ``"NY"`` years (converted to the cycle)."""
    m = DURATION_RE.match(str(duration).strip().upper())
    if not m:
        raise InvalidInput(
            "duration must be a whole number of cycles, or N followed by M or Y",
            errors={"duration": ['use e.g. "1", "3M" or "1Y"']},
        )
    n, unit = int(m.group(1)), m.group(2)
    months = {"M": n, "Y": 12 * n}.get(unit)
    if months is None:
        cycles = n
    elif cycle == Cycle.MONTH:
        cycles = months
    elif cycle == Cycle.YEAR and months % 12 == 0:
        cycles = months // 12
    else:
        raise InvalidInput(
            f"duration {duration!r} does not fit the {cycle} cycle of the instance's prepaid components",
            errors={"duration": [f"not a whole number of {cycle} cycles"]},
        )
    if cycles > MAX_RENEW_CYCLES:
        raise InvalidInput("duration too long", errors={"duration": [f"at most {MAX_RENEW_CYCLES} cycles"]})
    return cycles


def renewable_lines(
    *, instance: ProductInstance, lines: Sequence[SubscriptionLine]
) -> list[SubscriptionLine]:
    """The prepaid lines a renewal pays: only a running or paused instance renews (3405), and only
    if it has prepaid components (3406)."""
    ext = instance.prod_inst_id_ext
    if instance.status not in (InstanceStatus.RUNNING, InstanceStatus.PAUSED):
        raise PackageInstanceStateError(
            f"instance {ext} is {instance.status}: only a running or paused instance renews"
        )
    prepaid = [
        ln
        for ln in lines
        if ln.billing_mode == BillingMode.PREPAID and ln.status in (LineStatus.RUNNING, LineStatus.PAUSED)
    ]
    if not prepaid:
        raise NothingToRenew(f"instance {ext} has no prepaid components to renew")
    return prepaid


@dataclass(frozen=True)
class RenewLine:
    line: SubscriptionLine
    cost: ComponentCost  # the price in force at the renewal's start
    amount: Decimal  # price x cycles, net of ``discount``
    discount: Decimal = ZERO  # the order's promotion on the covered cycles
    discounted: tuple[int, ...] = ()  # the line's period indexes it covers


@dataclass(frozen=True)
class RenewQuote:
    cycles: int
    start: datetime
    end: datetime
    lines: list[RenewLine]
    total: Decimal  # net
    discount: Decimal = ZERO


def quote_renew(
    *,
    instance: ProductInstance,
    sub: Subscription,
    prepaid: Sequence[SubscriptionLine],
    duration: str,
) -> RenewQuote:
    """``duration`` more cycles of every prepaid line from where the paid period ends, priced at that
    start, less the order's promotion on the cycles its duration covers (``renew_discount``). The
    lines must share one period (3405)."""
    if len({(ln.cycle, ln.periods_billed, ln.paid_until) for ln in prepaid}) != 1:
        raise PackageInstanceStateError(
            f"instance {instance.prod_inst_id_ext}: prepaid components are not on one shared period"
        )
    first = prepaid[0]
    cycles = duration_cycles(duration=duration, cycle=first.cycle)
    start = period_of(anchor=sub.anchor, cycle=first.cycle, index=first.periods_billed + 1).start
    end = period_of(anchor=sub.anchor, cycle=first.cycle, index=first.periods_billed + cycles).end
    cost = get_cost(
        prod_id=instance.prod_id,
        plan_id=first.plan.plan_id,
        components=[{"component_id": ln.component_id, "attrs": ln.attrs} for ln in prepaid],
        at=start,
    )
    redemption = order_redemption(sub)
    lines = []
    for ln, price in zip(prepaid, cost.components, strict=True):
        discount, discounted = renew_discount(
            redemption,
            line=ln,
            prod_id=instance.prod_id,
            unit_price=price.price,
            first_index=first.periods_billed + 1,
            cycles=cycles,
        )
        gross = period_amount(unit_price=price.price, quantity=cycles)
        lines.append(RenewLine(ln, price, gross - discount, discount, tuple(discounted)))
    total = to_money(sum((rl.amount for rl in lines), Decimal(0)))
    discount = to_money(sum((rl.discount for rl in lines), Decimal(0)))
    return RenewQuote(cycles=cycles, start=start, end=end, lines=lines, total=total, discount=discount)


# --- change configuration --------------------------------------------------------------------------


def unused_by_period(*, line: SubscriptionLine, at: datetime) -> list[tuple[int, Decimal]]:
    """The line's paid periods not over at ``at`` (latest first), each with the part of it still
    unused: its time after ``at`` over its own length. Period by period, so a span of several
    periods counts each month by its own days (31 + 30 days are 2 cycles, not 61/30)."""
    if line.paid_until is None or line.paid_until <= at or line.periods_billed < 1:
        return []
    unused = []
    for index in range(line.periods_billed, 0, -1):
        period = period_of(anchor=line.subscription.anchor, cycle=line.cycle, index=index)
        end = min(period.end, line.paid_until)
        if end <= at:
            break
        left = int((end - max(at, period.start)).total_seconds())
        unused.append((index, Decimal(left) / Decimal(int((period.end - period.start).total_seconds()))))
    return unused


@dataclass(frozen=True)
class ChangeLine:
    line: SubscriptionLine
    attrs: dict[str, Any]  # the line's attributes after the change
    before: ComponentCost
    after: ComponentCost
    fraction: Decimal  # of a cycle still paid
    amount: Decimal | None  # the ``change`` record (charged > 0, credited < 0), net; None: no record
    discount: Decimal = ZERO  # the order's promotion on a charge (never on a credit)

    @property
    def diff(self) -> Decimal:
        return self.after.price - self.before.price


@dataclass(frozen=True)
class ChangeQuote:
    plan: Plan
    lines: list[ChangeLine]
    net: Decimal  # charged when > 0, refunded when < 0

    @property
    def discount(self) -> Decimal:
        return to_money(sum((c.discount for c in self.lines), Decimal(0)))

    @property
    def payable(self) -> Decimal:
        return max(self.net, Decimal(0))

    @property
    def refund(self) -> Decimal:
        return max(-self.net, Decimal(0))


def quote_change(
    *,
    instance: ProductInstance,
    lines: Sequence[SubscriptionLine],
    plan_id: str,
    changes: Sequence[ComponentChange],
    at: datetime,
) -> ChangeQuote:
    """Price the old and the new attribute values with ``get_cost`` and the difference for the rest
    of the paid span: prepaid lines ``diff x`` the unused part of each paid period, hourly lines
    the rest of the paid hour, postpaid lines nothing (the new unit price bills the running period).
    A prepaid line's span the order's promotion covers is re-priced net (``change_amounts``)."""
    ext = instance.prod_inst_id_ext
    if instance.status not in (InstanceStatus.RUNNING, InstanceStatus.PAUSED):
        raise PackageInstanceStateError(
            f"instance {ext} is {instance.status}: only a running or paused instance changes"
        )
    by_component = {
        ln.component_id: ln for ln in lines if ln.status in (LineStatus.RUNNING, LineStatus.PAUSED)
    }
    errors: dict[str, list[str]] = {}
    for i, ch in enumerate(changes):
        if ch.component_id not in by_component:
            errors[f"component_infos[{i}].component_id"] = [
                f"instance {ext} has no component {ch.component_id!r}"
            ]
    if errors:
        raise InvalidInput("invalid parameters", errors=errors)
    targets = [
        (by_component[ch.component_id], {**by_component[ch.component_id].attrs, **ch.attrs}) for ch in changes
    ]
    old = get_cost(
        prod_id=instance.prod_id,
        plan_id=targets[0][0].plan.plan_id,
        components=[{"component_id": ln.component_id, "attrs": ln.attrs} for ln, _ in targets],
        at=at,
    )
    new = get_cost(
        prod_id=instance.prod_id,
        plan_id=plan_id,
        components=[{"component_id": ln.component_id, "attrs": attrs} for ln, attrs in targets],
        at=at,
    )
    plan = Plan.objects.get(plan_id=plan_id)
    redemption = order_redemption(targets[0][0].subscription)
    out: list[ChangeLine] = []
    for (ln, attrs), before, after in zip(targets, old.components, new.components, strict=True):
        diff = after.price - before.price
        unused = unused_by_period(line=ln, at=at)
        fraction = sum((part for _, part in unused), Decimal(0))
        amount, discount = None, ZERO
        if diff != 0 and fraction > 0 and ln.billing_mode != BillingMode.POSTPAID:
            # ``ln`` still has the running period's plan: the targets are read against what was paid
            amount, discount = change_amounts(
                redemption, line=ln, prod_id=instance.prod_id, before=before.price, after=after.price,
                unused=unused,
            )  # fmt: skip
        out.append(ChangeLine(ln, attrs, before, after, fraction, amount, discount))
    net = to_money(sum((c.amount for c in out if c.amount is not None), Decimal(0)))
    return ChangeQuote(plan=plan, lines=out, net=net)
