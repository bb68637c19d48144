"""Purchase orders (DOMAIN.md 5): create, cancel, renew, switch plan, and the one transition function.

Money always moves through the engine (``orders.engine.billing``) and ``billing.services`` in the
same transaction as the order's state change. Lock order: the account row, then the order row,
then the subscription line (the engine locks the account again, which is a no-op inside our
transaction).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.locks import account_lock
from billing.models import Account
from billing.services import Posting, account_refund
from config.api.errors import ErrorCode
from config.exceptions import domain_error
from config.money import ZERO, to_money
from orders.engine.billing import (
    PeriodCharge,
    line_bill_metered_period,
    line_charge_period,
    next_period,
    period_of,
    records_pay,
    usage_record_write,
)
from orders.engine.models import (
    LineStatus,
    Subscription,
    SubscriptionKind,
    SubscriptionLine,
    SubscriptionStatus,
)
from orders.purchase import notify
from orders.purchase.models import (
    PurchaseOrder,
    PurchaseOrderEndReason,
    PurchaseOrderStatus,
)
from orders.purchase.quote import (
    RUNNING,
    check_duplicate,
    check_renewable,
    order_line,
    quote_create,
    quote_modify,
    quote_renew,
    require_plan_id,
    unused_credit,
)
from orders.purchase.transitions import order_event_append, order_get_locked, order_transition
from plans.models import BillingMode, Cycle, Plan, PriceVersion
from plans.services import price_mark_used
from usage.models import UsageKind, UsageRecord, UsageStatus

logger = logging.getLogger(__name__)

MAX_CATCH_UP_PERIODS = 48

# --- helpers ------------------------------------------------------------------------------------


def new_order_id(at: datetime | None = None) -> str:
    """``PO`` + UTC time to the microsecond + 6 random hex: unique and sortable by creation."""
    at = at or timezone.now()
    return "PO" + at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f") + secrets.token_hex(3)


def renewal_lead(cycle: str) -> timedelta:
    """``RENEWAL_LEAD``, but never more than one cycle (a daily plan is renewed a day ahead)."""
    one = {Cycle.HOUR: timedelta(hours=1), Cycle.DAY: timedelta(days=1)}.get(Cycle(cycle))
    lead: timedelta = settings.RENEWAL_LEAD
    return min(lead, one) if one else lead


def records_settle(
    *,
    account_id: int,
    records: Sequence[UsageRecord],
    idempotency_key: str,
    subject: tuple[str, Any],
    actor: Any = None,
    memo: str = "",
    at: datetime | None = None,
) -> Posting:
    """``records_pay`` when the records sum to >= 0; otherwise ONE refund of the difference (a
    credit larger than the new charge). Every record is marked paid by that entry."""
    at = at or timezone.now()
    total = to_money(sum((r.amount for r in records), Decimal(0)))
    if total >= 0:
        return records_pay(
            account_id=account_id,
            records=records,
            idempotency_key=idempotency_key,
            subject=subject,
            actor=actor,
            memo=memo,
            at=at,
        )
    with transaction.atomic():
        posting = account_refund(
            account_id=account_id,
            amount=-total,
            idempotency_key=idempotency_key,
            subject=subject,
            actor=actor,
            memo=memo,
        )
        UsageRecord.objects.filter(pk__in=[r.pk for r in records]).exclude(status=UsageStatus.PAID).update(
            status=UsageStatus.PAID, ledger_entry=posting.entry, paid_at=at
        )
        for r in records:
            if r.price_version_id:
                price_mark_used(version_id=r.price_version_id, rule_id=None, at=at)
    return posting


# --- create ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateResult:
    order: PurchaseOrder | None  # None for a dry run
    money: Decimal
    plan: Plan
    price_version: PriceVersion | None
    preview: dict[str, Any]


def _open_subscription(
    *, account_id: int, order_id: str, plan: Plan, price: Decimal, qty: int, at: datetime, params: dict
) -> SubscriptionLine:
    sub = Subscription.objects.create(
        account_id=account_id,
        kind=SubscriptionKind.PURCHASE,
        order_ref=order_id,
        status=SubscriptionStatus.BILLING,
        anchor=at,
    )
    return SubscriptionLine.objects.create(
        subscription=sub,
        plan=plan,
        billing_mode=plan.billing_mode,
        cycle=plan.cycle,
        attrs=params,
        quantity=Decimal(qty),
        price=price,
        status=LineStatus.RUNNING,
    )


def _charge_first(
    *,
    line: SubscriptionLine,
    plan: Plan,
    version: PriceVersion,
    qty: int,
    kind: str,
    region: str,
    order_id: str,
    actor: Any,
    at: datetime,
) -> PeriodCharge:
    return line_charge_period(
        line_id=line.pk,
        unit_price=version.price,
        quantity=Decimal(qty),
        kind=kind,
        price_version_id=version.pk,
        region=region,
        subject=("purchase_order", order_id),
        actor=actor,
        at=at,
    )


def _schedule_after_paid(line: SubscriptionLine, paid_until: datetime) -> None:
    """When the engine looks at the line next: prepaid one lead before the end, else at the end."""
    if line.billing_mode == BillingMode.PREPAID:
        line.next_run_at = paid_until - renewal_lead(line.cycle)
    else:
        line.next_run_at = paid_until
    line.save(update_fields=["next_run_at", "updated_at"])


def purchase_order_create(
    *,
    account: Account,
    creator: Any,
    region: Any,
    plan_id: Any,
    quantities: Any = None,
    parameters: Any = None,
    resource_name: Any = None,
    drytry: bool = False,
    at: datetime | None = None,
) -> CreateResult:
    """Validate and price (``quote_create``), then (unless ``drytry``) open the order and charge its
    first period in ONE transaction: a short balance (3316) or any error leaves no order,
    subscription or record. The charge is the quote's ``money`` (both are ``period_amount``)."""
    at = at or timezone.now()
    quote = quote_create(
        account_id=account.pk,
        region=region,
        plan_id=plan_id,
        quantities=quantities,
        parameters=parameters,
        resource_name=resource_name,
        at=at,
    )
    region_s, qty, params, name = quote.region, quote.quantities, quote.parameters, quote.resource_name
    plan, version, money = quote.plan, quote.version, quote.money
    preview = {
        "namespace": account.namespace,
        "region": region_s,
        "quantities": qty,
        "plan_id": plan.plan_id,
        "plan_type": plan.plan_type,
        "resource_name": name,
    }
    if drytry:
        return CreateResult(order=None, money=money, plan=plan, price_version=version, preview=preview)

    order_id = new_order_id(at)
    with transaction.atomic():
        account_lock(account.pk)
        check_duplicate(account_id=account.pk, region=region_s, plan_type=plan.plan_type, resource_name=name)
        unit = version.price if version else ZERO
        line = _open_subscription(
            account_id=account.pk, order_id=order_id, plan=plan, price=unit, qty=qty, at=at, params=params
        )
        order = PurchaseOrder.objects.create(
            order_id=order_id,
            account=account,
            region=region_s,
            plan=plan,
            quantities=qty,
            resource_name=name,
            parameters=params,
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
        if plan.billing_mode == BillingMode.POSTPAID:
            deadline = period_of(anchor=at, cycle=plan.cycle, index=1).end
            line.next_run_at = deadline
            line.save(update_fields=["next_run_at", "updated_at"])
        else:
            assert version is not None  # checked by plan_for_order
            kind = UsageKind.HOURLY if plan.billing_mode == BillingMode.HOURLY else UsageKind.NEW
            charge = _charge_first(
                line=line,
                plan=plan,
                version=version,
                qty=qty,
                kind=kind,
                region=region_s,
                order_id=order_id,
                actor=creator,
                at=at,
            )
            deadline = charge.period.end
            _schedule_after_paid(line, deadline)
        order = order_transition(
            order_pk=order.pk,
            to=PurchaseOrderStatus.CONSUMING,
            reason="paid" if money else "opened",
            actor=creator,
            at=at,
            data={"money": str(money)},
            fields={"deadline": deadline},
        )
        notify.notify_order(event="order_created", order=order, data={"money": str(money)})
    return CreateResult(order=order, money=money, plan=plan, price_version=version, preview=preview)


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
        )
    line.refresh_from_db()
    _schedule_after_paid(line, charge.period.end)
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
            **({"note": note} if note else {}),
        },
        fields={"deadline": charge.period.end, "last_renew_fail_notified_at": None},
    )
    if charge.charged:
        notify.notify_order(event="order_renewed", order=order, data={"money": str(money)})
    return RenewResult(order=order, money=money, charged=charge.charged, period_end=charge.period.end)


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


def subscription_stop(order: PurchaseOrder) -> None:
    line = order_line(order)
    if line is None:
        return
    SubscriptionLine.objects.filter(pk=line.pk).update(status=LineStatus.STOPPED, next_run_at=None)
    Subscription.objects.filter(pk=line.subscription_id).update(status=SubscriptionStatus.ENDED)


def _bill_postpaid_until(*, line: SubscriptionLine, order: PurchaseOrder, at: datetime) -> None:
    """Bill the ended cycles and the last, partial one of a postpaid line being stopped (metered
    quantity x unit price; a short balance leaves the record in ``arrears``, as the jobs runner does)."""
    subject = ("purchase_order", order.order_id)
    for _ in range(MAX_CATCH_UP_PERIODS):
        line.refresh_from_db()
        if next_period(line).end > at:
            break
        line_bill_metered_period(line_id=line.pk, at=at, subject=subject, region=order.region)
    line.refresh_from_db()
    if next_period(line).start < at:
        line_bill_metered_period(line_id=line.pk, at=at, final_end=at, subject=subject, region=order.region)


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
        if order.status not in RUNNING:
            raise domain_error(
                # The origin's 3318 "not found or not consuming" (issue 23.3), with Tally's 409.
                ErrorCode.NOT_FOUND,
                f"order {order.order_id} is {order.status_label}, not consuming",
                http_status=409,
            )
        refund = ZERO
        line = order_line(order)
        if refund_unused and line is not None and line.billing_mode == BillingMode.PREPAID:
            refund = unused_credit(line=line, at=at)
            if refund > 0:
                posting = account_refund(
                    account_id=order.account_id,
                    amount=refund,
                    idempotency_key=f"po:{order.order_id}:cancel-refund",
                    subject=("purchase_order", order.order_id),
                    actor=actor,
                    memo=reason[:500],
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
        if line is not None and line.billing_mode == BillingMode.POSTPAID:
            _bill_postpaid_until(line=line, order=order, at=at)
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
            error_code=ErrorCode.CANCEL_ORDER,
        )
        notify.notify_order(event="order_canceled", order=order, data={"refund": str(refund)})
    return order, refund


# --- modify (switch plan) -------------------------------------------------------------------------


@dataclass(frozen=True)
class SwitchResult:
    old: PurchaseOrder
    new: PurchaseOrder
    credit: Decimal
    price: Decimal
    money: Decimal  # net: charged when > 0, refunded when < 0


def purchase_order_modify(
    *, order_pk: int, plan_id: Any, actor: Any = None, at: datetime | None = None
) -> SwitchResult:
    """Switch a running prepaid order to another plan of the same plan type.

    The old order ends (``switched``) with an ``end`` record of minus the credit; a new order starts
    now with a ``switch`` record of the new plan's full first period; ONE ledger entry moves the
    difference (a refund when the credit is larger).
    """
    at = at or timezone.now()
    require_plan_id(plan_id)
    with transaction.atomic():
        order = order_get_locked(order_pk)
        quote = quote_modify(order=order, plan_id=plan_id, at=at)
        plan, version, old_line = quote.plan, quote.version, quote.old_line
        credit, price, period = quote.credit, quote.price, quote.period
        qty = order.quantities

        new_id = new_order_id(at)
        line = _open_subscription(
            account_id=order.account_id,
            order_id=new_id,
            plan=plan,
            price=version.price,
            qty=qty,
            at=at,
            params=order.parameters,
        )
        new = PurchaseOrder.objects.create(
            order_id=new_id,
            account_id=order.account_id,
            region=order.region,
            plan=plan,
            quantities=qty,
            resource_name=order.resource_name,
            parameters=order.parameters,
            creator=actor if getattr(actor, "pk", None) else order.creator,
            start_time=at,
            status=PurchaseOrderStatus.PENDING,
            subscription=line.subscription,
            switched_from=order,
        )
        order_event_append(
            new,
            from_status=None,
            to=PurchaseOrderStatus.PENDING,
            reason="switched_from",
            actor=actor,
            at=at,
            data={"from": order.order_id},
        )
        new_rec, _ = usage_record_write(
            line=line,
            period_start=period.start,
            period_end=period.end,
            key=period.key,
            kind=UsageKind.SWITCH,
            unit_price=version.price,
            quantity=Decimal(qty),
            price_version_id=version.pk,
            region=order.region,
        )
        end_rec, _ = usage_record_write(
            line=old_line,
            period_start=at,
            period_end=max(at, old_line.paid_until or at),
            key="end:switch",
            kind=UsageKind.END,
            unit_price=-credit,
            amount=-credit,
            region=order.region,
        )
        posting = records_settle(
            account_id=order.account_id,
            records=[new_rec, end_rec],
            idempotency_key=f"po:{order.order_id}:switch",
            subject=("purchase_order", new_id),
            actor=actor,
            memo=f"switch {order.order_id} -> {new_id}",
            at=at,
        )
        line.periods_billed = 1
        line.paid_until = period.end
        line.save(update_fields=["periods_billed", "paid_until", "updated_at"])
        _schedule_after_paid(line, period.end)
        subscription_stop(order)
        old = order_transition(
            order_pk=order.pk,
            to=PurchaseOrderStatus.ENDED,
            reason="switched",
            actor=actor,
            at=at,
            data={"to": new_id, "credit": str(credit)},
            fields={"end_time": at, "end_reason": PurchaseOrderEndReason.SWITCHED},
            error_code=ErrorCode.MODIFY_ORDER,
        )
        new = order_transition(
            order_pk=new.pk,
            to=PurchaseOrderStatus.CONSUMING,
            reason="switched",
            actor=actor,
            at=at,
            data={
                "from": order.order_id,
                "price": str(price),
                "credit": str(credit),
                "entry": posting.entry.pk,
            },
            fields={"deadline": period.end},
        )
        notify.notify_order(event="order_closed", order=old, data={"reason": "switched", "to": new_id})
        notify.notify_order(event="order_created", order=new, data={"money": str(price - credit)})
    return SwitchResult(old=old, new=new, credit=credit, price=price, money=quote.money)
