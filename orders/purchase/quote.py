"""What a purchase-order operation would cost, computed without writing anything.

``orders.purchase.services`` prices every create, renewal and switch with these functions (under its
locks), and the previews (``drytry=1``, ``orders.purchase.previews``) call the same functions without
locks and write nothing, so a preview answers exactly what the real call then charges or refunds.
Every function here only reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.promotions import promotion_redeemable, redemption_discount, redemption_for
from config.exceptions import InvalidInput
from config.money import ZERO, floor_cents, to_money
from orders.engine.billing import Period, next_period, period_amount, period_of
from orders.engine.models import SubscriptionLine
from orders.purchase.errors import (
    PlanNotFound,
    PlanUnavailable,
    PurchaseOrderNotConsuming,
    RenewRefused,
    RenewStateError,
    ResourceNameTaken,
    SwitchRefused,
    SwitchStateError,
)
from orders.purchase.models import PurchaseOrder, PurchaseOrderStatus
from plans.models import BillingMode, Cycle, Plan, PriceVersion, Promotion
from plans.promotions import discount_for, promotion_find
from plans.selectors import price_version_in_force
from usage.models import UsageKind, UsageRecord, UsageStatus

RUNNING = (PurchaseOrderStatus.CONSUMING, PurchaseOrderStatus.RENEWALFAILED)
PAID_PERIOD_KINDS = (UsageKind.NEW, UsageKind.RENEW, UsageKind.SWITCH, UsageKind.HOURLY)


def order_line(order: PurchaseOrder) -> SubscriptionLine | None:
    if order.subscription_id is None:
        return None
    return SubscriptionLine.objects.filter(subscription_id=order.subscription_id).order_by("id").first()


# --- create ---------------------------------------------------------------------------------------


def plan_for_order(*, plan_id: str, region: str, at: datetime) -> tuple[Plan, PriceVersion | None]:
    """The plan if a new order may use it (exists, active, serves the region, has a price): else
    3315 naming ``plan_id``."""
    plan = Plan.objects.filter(plan_id=str(plan_id)).first()

    def bad(reason: str, error: type[PlanUnavailable] = PlanUnavailable) -> PlanUnavailable:
        return error(f"plan {plan_id}: {reason}", errors={"plan_id": [reason]})

    if plan is None:
        raise bad("not found", PlanNotFound)
    if not plan.is_active:
        raise bad("retired")
    if not plan.serves_region(region):
        raise bad(f"not offered in region {region}")
    if plan.billing_mode not in BillingMode.values or plan.cycle not in Cycle.values:
        raise bad("not a plan for purchase orders (no billing mode and cycle)")
    version = price_version_in_force(plan, at)
    if version is None and plan.billing_mode != BillingMode.POSTPAID:
        raise bad("no price in force")
    return plan, version


def first_price(plan: Plan, version: PriceVersion | None, qty: int) -> Decimal:
    """What the first period costs at once: nothing for a postpaid plan (billed after each cycle)."""
    if plan.billing_mode == BillingMode.POSTPAID or version is None:
        return ZERO
    return period_amount(unit_price=version.price, quantity=qty)


def check_duplicate(*, account_id: int, region: str, plan_type: str, resource_name: str) -> None:
    if not resource_name:
        return
    clash = PurchaseOrder.objects.filter(
        account_id=account_id,
        region=region,
        plan__plan_type=plan_type,
        resource_name=resource_name,
        status__in=RUNNING,
    ).first()
    if clash is not None:
        raise ResourceNameTaken(
            f"resource {resource_name!r} already has a running {plan_type} order ({clash.order_id})",
            errors={"resource_name": ["duplicated"]},
            order_id=clash.order_id,
        )


@dataclass(frozen=True)
class CreateQuote:
    region: str
    quantities: int
    parameters: dict[str, Any]  # with ``resource_name`` when one is given
    resource_name: str
    plan: Plan
    version: PriceVersion | None
    money: Decimal  # charged at once (the first period, net of the discount; 0 for postpaid)
    deadline: datetime  # end of the first period
    promotion: Promotion | None = None  # the ``coupon``'s, redeemed by the create
    discount: Decimal = ZERO  # taken off the first period (``money`` is net)


def quote_create(
    *,
    account_id: int,
    region: str,
    plan_id: str,
    quantities: int,
    parameters: dict[str, Any],
    resource_name: str | None,
    at: datetime,
    coupon: str | None = None,
) -> CreateQuote:
    """Check a new order's plan, resource and ``coupon`` and price its first period (3315 / 3308
    as the create answers; a refused coupon is 3307 on ``coupon``). The fields come checked (the
    API's ``OrderCreateSerializer``); a ``resource_name`` of ``None`` is taken from ``parameters``."""
    name = resource_name if resource_name is not None else (parameters.get("resource_name") or "")
    plan, version = plan_for_order(plan_id=plan_id, region=region, at=at)
    money = first_price(plan, version, quantities)
    promotion, discount = None, ZERO
    if coupon is not None:
        promotion = coupon_for(account_id=account_id, coupon=coupon, plan=plan, at=at)
        discount = discount_for(promotion=promotion, gross=money)
    check_duplicate(account_id=account_id, region=region, plan_type=plan.plan_type, resource_name=name)
    params = {**parameters, "resource_name": name} if name else parameters
    return CreateQuote(
        region=region,
        quantities=quantities,
        parameters=params,
        resource_name=name,
        plan=plan,
        version=version,
        money=money - discount,
        deadline=period_of(anchor=at, cycle=plan.cycle, index=1).end,
        promotion=promotion,
        discount=discount,
    )


def coupon_for(*, account_id: int, coupon: str, plan: Plan, at: datetime) -> Promotion:
    """The promotion a create's ``coupon`` names, if it applies to ``plan`` now and its limits
    leave this account a redemption (checked again under the lock by ``promotion_redeem``).
    Every billing mode: a prepaid order's renewals and a postpaid or hourly order's billed
    periods (the jobs runner, ``orders.engine.promotions``) apply it for its duration."""
    promotion = promotion_find(field="coupon", at=at, plan=plan, code=coupon)
    promotion_redeemable(account_id=account_id, promotion=promotion, field="coupon")
    return promotion


# --- cancel ---------------------------------------------------------------------------------------


def check_cancelable(order: PurchaseOrder) -> None:
    """A cancel needs a running order (3318 with 409: the origin's "not found or not consuming")."""
    if order.status not in RUNNING:
        raise PurchaseOrderNotConsuming(f"order {order.order_id} is {order.status_label}, not consuming")


# --- renew ----------------------------------------------------------------------------------------


def check_renewable(order: PurchaseOrder) -> None:
    """A manual renewal needs a running prepaid order (3313)."""
    if order.status not in RUNNING:
        raise RenewStateError(f"order {order.order_id} is {order.status_label}")
    if order.plan.billing_mode != BillingMode.PREPAID:
        raise RenewRefused(f"order {order.order_id} is not prepaid: nothing to renew")


@dataclass(frozen=True)
class RenewQuote:
    line: SubscriptionLine
    period: Period  # the period a renewal pays
    version: PriceVersion  # the price in force at that period's start
    money: Decimal  # net of the discount
    discount: Decimal = ZERO  # the order's promotion, while its duration covers the period


def quote_renew(*, order: PurchaseOrder) -> RenewQuote:
    """The next period of a running prepaid order, at the price in force at its start."""
    line = order_line(order)
    if line is None:
        raise RenewRefused(f"order {order.order_id} has no subscription")
    period = next_period(line)
    version = price_version_in_force(order.plan, period.start)
    if version is None:
        raise RenewRefused(f"plan {order.plan.plan_id} has no price for {period.start.isoformat()}")
    gross = period_amount(unit_price=version.price, quantity=order.quantities)
    redemption = redemption_for(subject=("purchase_order", order.order_id))
    discount = redemption_discount(redemption, period_index=period.index, gross=gross)
    return RenewQuote(line=line, period=period, version=version, money=gross - discount, discount=discount)


# --- modify (switch plan) -------------------------------------------------------------------------


def unused_credit(*, line: SubscriptionLine, at: datetime) -> Decimal:
    """What the unused part of the paid periods is worth at ``at``.

    The current period: ``floor(days_left) / round(period_days) x its charge``, rounded down to the
    cent (docs/purchase-orders.md). A period paid ahead (renewed in the lead window) and not
    started is credited in full.
    """
    credit = Decimal(0)
    records = UsageRecord.objects.filter(
        line_id=line.pk,
        kind__in=PAID_PERIOD_KINDS,
        status=UsageStatus.PAID,
        amount__gt=0,
        period_end__gt=at,
    )
    for rec in records:
        if rec.period_start >= at:
            credit += rec.amount
            continue
        days_left = math.floor((rec.period_end - at).total_seconds() / 86400)
        period_days = round((rec.period_end - rec.period_start).total_seconds() / 86400)
        if period_days <= 0:
            continue
        credit += floor_cents(Decimal(days_left) / Decimal(period_days) * rec.amount)
    return to_money(credit)


@dataclass(frozen=True)
class ModifyQuote:
    plan: Plan
    version: PriceVersion
    old_line: SubscriptionLine
    credit: Decimal  # the unused part of the old order, credited
    price: Decimal  # the new plan's full first period
    period: Period  # the new order's first period
    money: Decimal  # net: charged when > 0, refunded when < 0


def require_plan_id(plan_id: Any) -> None:
    if plan_id in (None, "") or not isinstance(plan_id, str | int) or isinstance(plan_id, bool):
        raise InvalidInput("invalid parameters: plan_id: required", errors={"plan_id": ["required"]})


def quote_modify(*, order: PurchaseOrder, plan_id: Any, at: datetime) -> ModifyQuote:
    """Check that a running prepaid order may switch to ``plan_id`` and price the switch
    (3307 / 3310 / 3315 as the modify answers)."""
    require_plan_id(plan_id)
    if order.status not in RUNNING:
        raise SwitchStateError(f"order {order.order_id} is {order.status_label}")
    plan, version = plan_for_order(plan_id=str(plan_id), region=order.region, at=at)
    old_plan = order.plan

    def refuse(reason: str) -> SwitchRefused:
        return SwitchRefused(f"cannot switch to {plan.plan_id}: {reason}", errors={"plan_id": [reason]})

    if plan.pk == old_plan.pk:
        raise refuse("it is the current plan")
    if plan.plan_type != old_plan.plan_type:
        raise refuse(f"plan type {plan.plan_type} differs from {old_plan.plan_type}")
    if plan.billing_mode != BillingMode.PREPAID or old_plan.billing_mode != BillingMode.PREPAID:
        raise refuse("only prepaid orders switch plans")
    assert version is not None  # a prepaid plan without a price fails plan_for_order
    old_line = order_line(order)
    if old_line is None:
        raise refuse("the order has no subscription")
    credit = unused_credit(line=old_line, at=at)
    price = period_amount(unit_price=version.price, quantity=order.quantities)
    return ModifyQuote(
        plan=plan,
        version=version,
        old_line=old_line,
        credit=credit,
        price=price,
        period=period_of(anchor=at, cycle=plan.cycle, index=1),
        money=to_money(price - credit),
    )
