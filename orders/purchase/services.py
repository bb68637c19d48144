"""Purchase orders (docs/purchase-orders.md): create, renew and cancel one order. A plan switch is in
``orders.purchase.switch``, the renewal engine in ``orders.purchase.renewal``, an order's
subscription line in ``orders.purchase.subscription``.

Money always moves through the engine (``orders.engine.billing``) and ``billing.services`` in the
same transaction as the order's state change. Lock order: the account row, then the order row,
then the subscription line (the engine locks the account again, which is a no-op inside our
transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.locks import account_lock
from billing.models import Account
from billing.promotions import promotion_redeem
from billing.services import account_refund
from config.db import retry_on_conflict
from config.money import ZERO
from orders.engine.billing import line_charge_period, period_of, usage_record_write
from orders.engine.models import SubscriptionLine
from orders.purchase import notify
from orders.purchase.errors import CancelStateError
from orders.purchase.models import (
    PurchaseOrder,
    PurchaseOrderEndReason,
    PurchaseOrderStatus,
)
from orders.purchase.quote import (
    CreateQuote,
    check_cancelable,
    check_duplicate,
    check_renewable,
    order_line,
    quote_create,
    quote_renew,
    unused_credit,
)
from orders.purchase.subscription import (
    line_bill_postpaid_until,
    line_schedule_after_paid,
    new_order_id,
    subscription_open,
    subscription_stop,
)
from orders.purchase.transitions import order_event_append, order_get_locked, order_transition
from plans.models import BillingMode, Plan, PriceVersion
from usage.models import UsageKind, UsageRecord, UsageStatus

# --- create ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateResult:
    order: PurchaseOrder | None  # None for a dry run
    money: Decimal
    plan: Plan
    price_version: PriceVersion | None
    preview: dict[str, Any]
    discount: Decimal = ZERO  # the coupon's, taken off the first period (``money`` is net)
    coupon: str | None = None  # the redeemed promotion's code


@retry_on_conflict
def purchase_order_create(
    *,
    account: Account,
    creator: Any,
    region: str,
    plan_id: str,
    quantities: int = 1,
    parameters: dict[str, Any] | None = None,
    resource_name: str | None = None,
    drytry: bool = False,
    at: datetime | None = None,
    coupon: str | None = None,
) -> CreateResult:
    """Price (``quote_create``: the fields come checked, by ``OrderCreateSerializer`` for the API),
    then (unless ``drytry``) open the order, redeem its ``coupon`` and charge its first period in
    ONE transaction: a short balance (3316), a coupon fully redeemed meanwhile (3307 on
    ``coupon``) or any error leaves no order, subscription, redemption or record. The charge is the
    quote's ``money`` (both are ``period_amount`` less ``discount_for``)."""
    at = at or timezone.now()
    quote = quote_create(
        account_id=account.pk,
        region=region,
        plan_id=plan_id,
        quantities=quantities,
        parameters=parameters or {},
        resource_name=resource_name,
        at=at,
        coupon=coupon,
    )
    plan, version, money = quote.plan, quote.version, quote.money
    preview = _preview(account, quote)
    applied: dict[str, Any] = (
        {"discount": quote.discount, "coupon": quote.promotion.code} if quote.promotion else {}
    )
    if drytry:
        return CreateResult(
            order=None, money=money, plan=plan, price_version=version, preview=preview, **applied
        )

    with transaction.atomic():
        account_lock(account.pk)
        check_duplicate(
            account_id=account.pk,
            region=quote.region,
            plan_type=plan.plan_type,
            resource_name=quote.resource_name,
        )
        order, line = _open_order(account=account, creator=creator, quote=quote, at=at)
        if quote.promotion is not None:
            promotion_redeem(
                account_id=account.pk,
                promotion_id=quote.promotion.pk,
                subject=("purchase_order", order.order_id),
                field="coupon",
                at=at,
                actor=creator,
            )
        deadline = _bill_first_period(order=order, line=line, quote=quote, actor=creator, at=at)
        coupon_data = (
            {"coupon": quote.promotion.code, "discount": str(quote.discount)} if quote.promotion else {}
        )
        order = order_transition(
            order_pk=order.pk,
            to=PurchaseOrderStatus.CONSUMING,
            reason="paid" if money else "opened",
            actor=creator,
            at=at,
            data={"money": str(money), **coupon_data},
            fields={"deadline": deadline},
        )
        notify.notify_order(event="order_created", order=order, data={"money": str(money)})
    return CreateResult(
        order=order, money=money, plan=plan, price_version=version, preview=preview, **applied
    )


def _preview(account: Account, quote: CreateQuote) -> dict[str, Any]:
    """What ``drytry=1`` answers as the order (and every create keeps as ``preview``)."""
    preview = {
        "namespace": account.namespace,
        "region": quote.region,
        "quantities": quote.quantities,
        "plan_id": quote.plan.plan_id,
        "plan_type": quote.plan.plan_type,
        "resource_name": quote.resource_name,
    }
    if quote.promotion is not None:
        preview["coupon"] = quote.promotion.code
    return preview


def _open_order(
    *, account: Account, creator: Any, quote: CreateQuote, at: datetime
) -> tuple[PurchaseOrder, SubscriptionLine]:
    """The new order (``pending``) on a new subscription line priced at the version in force."""
    order_id = new_order_id(at)
    line = subscription_open(
        account_id=account.pk,
        order_id=order_id,
        plan=quote.plan,
        price=quote.version.price if quote.version else ZERO,
        qty=quote.quantities,
        at=at,
        params=quote.parameters,
    )
    order = PurchaseOrder.objects.create(
        order_id=order_id,
        account=account,
        region=quote.region,
        plan=quote.plan,
        quantities=quote.quantities,
        resource_name=quote.resource_name,
        parameters=quote.parameters,
        creator=creator if getattr(creator, "pk", None) else None,
        start_time=at,
        status=PurchaseOrderStatus.PENDING,
        subscription=line.subscription,
    )
    order_event_append(
        order,
        from_status=None,
        to=PurchaseOrderStatus.PENDING,
        reason="created",
        actor=creator,
        at=at,
        data={},
    )
    return order, line


def _bill_first_period(
    *, order: PurchaseOrder, line: SubscriptionLine, quote: CreateQuote, actor: Any, at: datetime
) -> datetime:
    """Charge the first period (prepaid, or the first hour of an hourly plan) and schedule the
    line; a postpaid line is only scheduled for the end of its first cycle. Returns the deadline."""
    plan, version = quote.plan, quote.version
    if plan.billing_mode == BillingMode.POSTPAID:
        deadline = period_of(anchor=at, cycle=plan.cycle, index=1).end
        line.next_run_at = deadline
        line.save(update_fields=["next_run_at", "updated_at"])
        return deadline
    assert version is not None  # checked by plan_for_order
    charge = line_charge_period(
        line_id=line.pk,
        unit_price=version.price,
        quantity=Decimal(quote.quantities),
        kind=UsageKind.HOURLY if plan.billing_mode == BillingMode.HOURLY else UsageKind.NEW,
        price_version_id=version.pk,
        region=quote.region,
        subject=("purchase_order", order.order_id),
        actor=actor,
        at=at,
        discount=quote.discount,
        price_read=version.price,
    )
    line_schedule_after_paid(line, charge.period.end)
    return charge.period.end


# --- renew ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewResult:
    order: PurchaseOrder
    money: Decimal
    charged: bool
    period_end: datetime


def renew_locked(
    *, order: PurchaseOrder, actor: Any, at: datetime, reason: str, note: str = ""
) -> RenewResult:
    """Charge the next period of a locked, running prepaid order at the price in force at that
    period's start, move the deadline, and bring a ``renewalfailed`` order back to ``consuming``.

    Must run inside the caller's transaction with the account and order rows locked. Raises
    ``InsufficientFunds`` with nothing written (the engine's savepoint rolls back).
    """
    quote = quote_renew(order=order)
    line, version = quote.line, quote.version
    with transaction.atomic():
        charge = line_charge_period(
            line_id=line.pk,
            unit_price=version.price,
            quantity=Decimal(order.quantities),
            kind=UsageKind.RENEW,
            price_version_id=version.pk,
            region=order.region,
            subject=("purchase_order", order.order_id),
            actor=actor,
            at=at,
            discount=quote.discount,
            price_read=version.price,
        )
    line.refresh_from_db()
    line_schedule_after_paid(line, charge.period.end)
    if line.price != version.price:
        SubscriptionLine.objects.filter(pk=line.pk).update(price=version.price)
    money = charge.record.amount if charge.charged else ZERO
    order = order_transition(
        order_pk=order.pk,
        to=PurchaseOrderStatus.CONSUMING,
        reason=reason,
        actor=actor,
        at=at,
        data={
            "money": str(money),
            "period_end": charge.period.end.isoformat(),
            "charged": charge.charged,
            **({"discount": str(quote.discount)} if quote.discount else {}),
            **({"note": note} if note else {}),
        },
        fields={"deadline": charge.period.end, "last_renew_fail_notified_at": None},
    )
    if charge.charged:
        notify.notify_order(event="order_renewed", order=order, data={"money": str(money)})
    return RenewResult(order=order, money=money, charged=charge.charged, period_end=charge.period.end)


@retry_on_conflict
def purchase_order_renew(
    *, order_pk: int, actor: Any = None, at: datetime | None = None, note: str = ""
) -> RenewResult:
    """Manual renewal (API ``action=renew`` or the admin, whose reason is ``note``): pay the next
    period now."""
    at = at or timezone.now()
    with transaction.atomic():
        order = order_get_locked(order_pk)
        check_renewable(order)
        return renew_locked(order=order, actor=actor, at=at, reason="renewed", note=note)


# --- cancel ---------------------------------------------------------------------------------------


def purchase_order_cancel(
    *,
    order_pk: int,
    actor: Any = None,
    refund_unused: bool = False,
    reason: str = "",
    at: datetime | None = None,
) -> tuple[PurchaseOrder, Decimal]:
    """End a running order. The API never refunds (the origin's rule); finance staff in the admin
    may refund the unused days (same credit formula as a switch). Returns the order and the refund."""
    at = at or timezone.now()
    with transaction.atomic():
        order = order_get_locked(order_pk)
        check_cancelable(order)
        refund = ZERO
        line = order_line(order)
        if refund_unused and line is not None and line.billing_mode == BillingMode.PREPAID:
            refund = _refund_unused(order=order, line=line, actor=actor, memo=reason[:500], at=at)
        if line is not None and line.billing_mode == BillingMode.POSTPAID:
            line_bill_postpaid_until(line=line, order=order, at=at)
        subscription_stop(order)
        order = order_transition(
            order_pk=order.pk,
            to=PurchaseOrderStatus.ENDED,
            reason="canceled",
            actor=actor,
            at=at,
            data={"refund": str(refund), "note": reason},
            fields={
                "end_time": at,
                "end_reason": PurchaseOrderEndReason.CANCELED_REFUNDED
                if refund > 0
                else PurchaseOrderEndReason.CANCELED,
            },
            refused=CancelStateError,
        )
        notify.notify_order(event="order_canceled", order=order, data={"refund": str(refund)})
    return order, refund


def _refund_unused(
    *, order: PurchaseOrder, line: SubscriptionLine, actor: Any, memo: str, at: datetime
) -> Decimal:
    """Refund what the unused days of a prepaid line are worth (nothing when that is 0), with a
    paid ``refund`` record of minus that amount on the line."""
    refund = unused_credit(line=line, at=at)
    if refund <= 0:
        return refund
    posting = account_refund(
        account_id=order.account_id,
        amount=refund,
        idempotency_key=f"po:{order.order_id}:cancel-refund",
        subject=("purchase_order", order.order_id),
        actor=actor,
        memo=memo,
    )
    record, _ = usage_record_write(
        line=line,
        period_start=at,
        period_end=max(at, line.paid_until or at),
        key="refund:cancel",
        kind=UsageKind.REFUND,
        unit_price=-refund,
        amount=-refund,
        status=UsageStatus.PAID,
        region=order.region,
    )
    UsageRecord.objects.filter(pk=record.pk).update(ledger_entry=posting.entry, paid_at=at)
    return refund
