"""Switching a running prepaid purchase order to another plan of the same plan type (API
``action=modify``): the old order ends, a new one starts, one ledger entry moves the difference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.services import Posting, account_refund
from config.db import retry_on_conflict
from config.money import to_money
from orders.engine.billing import records_pay, usage_record_write
from orders.engine.models import SubscriptionLine
from orders.purchase import notify
from orders.purchase.errors import SwitchStateError
from orders.purchase.models import PurchaseOrder, PurchaseOrderEndReason, PurchaseOrderStatus
from orders.purchase.quote import ModifyQuote, quote_modify, require_plan_id
from orders.purchase.subscription import (
    line_schedule_after_paid,
    new_order_id,
    subscription_open,
    subscription_stop,
)
from orders.purchase.transitions import order_event_append, order_get_locked, order_transition
from usage.models import UsageKind, UsageRecord, UsageStatus


@dataclass(frozen=True)
class SwitchResult:
    old: PurchaseOrder
    new: PurchaseOrder
    credit: Decimal
    price: Decimal
    money: Decimal  # net: charged when > 0, refunded when < 0


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
    return posting


@retry_on_conflict
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
        new, line = _open_switched_order(order=order, quote=quote, actor=actor, at=at)
        posting = _settle_switch(order=order, new=new, line=line, quote=quote, actor=actor, at=at)
        old, new = _end_old_start_new(order=order, new=new, quote=quote, posting=posting, actor=actor, at=at)
    return SwitchResult(old=old, new=new, credit=quote.credit, price=quote.price, money=quote.money)


def _open_switched_order(
    *, order: PurchaseOrder, quote: ModifyQuote, actor: Any, at: datetime
) -> tuple[PurchaseOrder, SubscriptionLine]:
    """The new order (``pending``, ``switched_from`` the old one) on a new subscription line."""
    new_id = new_order_id(at)
    line = subscription_open(
        account_id=order.account_id,
        order_id=new_id,
        plan=quote.plan,
        price=quote.version.price,
        qty=order.quantities,
        at=at,
        params=order.parameters,
    )
    new = PurchaseOrder.objects.create(
        order_id=new_id,
        account_id=order.account_id,
        region=order.region,
        plan=quote.plan,
        quantities=order.quantities,
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
    return new, line


def _settle_switch(
    *,
    order: PurchaseOrder,
    new: PurchaseOrder,
    line: SubscriptionLine,
    quote: ModifyQuote,
    actor: Any,
    at: datetime,
) -> Posting:
    """The new line's ``switch`` record, the old line's ``end`` record (minus the credit), ONE
    ledger entry for their sum; the new line is paid for its first period."""
    version, period, old_line = quote.version, quote.period, quote.old_line
    new_rec, _ = usage_record_write(
        line=line,
        period_start=period.start,
        period_end=period.end,
        key=period.key,
        kind=UsageKind.SWITCH,
        unit_price=version.price,
        quantity=Decimal(order.quantities),
        price_version_id=version.pk,
        price_read=version.price,
        region=order.region,
    )
    end_rec, _ = usage_record_write(
        line=old_line,
        period_start=at,
        period_end=max(at, old_line.paid_until or at),
        key="end:switch",
        kind=UsageKind.END,
        unit_price=-quote.credit,
        amount=-quote.credit,
        region=order.region,
    )
    posting = records_settle(
        account_id=order.account_id,
        records=[new_rec, end_rec],
        idempotency_key=f"po:{order.order_id}:switch",
        subject=("purchase_order", new.order_id),
        actor=actor,
        memo=f"switch {order.order_id} -> {new.order_id}",
        at=at,
    )
    line.periods_billed = 1
    line.paid_until = period.end
    line.save(update_fields=["periods_billed", "paid_until", "updated_at"])
    line_schedule_after_paid(line, period.end)
    return posting


def _end_old_start_new(
    *,
    order: PurchaseOrder,
    new: PurchaseOrder,
    quote: ModifyQuote,
    posting: Posting,
    actor: Any,
    at: datetime,
) -> tuple[PurchaseOrder, PurchaseOrder]:
    """Stop the old line, end the old order (``switched``), start the new one, notify both."""
    credit, price = quote.credit, quote.price
    subscription_stop(order)
    old = order_transition(
        order_pk=order.pk,
        to=PurchaseOrderStatus.ENDED,
        reason="switched",
        actor=actor,
        at=at,
        data={"to": new.order_id, "credit": str(credit)},
        fields={"end_time": at, "end_reason": PurchaseOrderEndReason.SWITCHED},
        refused=SwitchStateError,
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
        fields={"deadline": quote.period.end},
    )
    notify.notify_order(event="order_closed", order=old, data={"reason": "switched", "to": new.order_id})
    notify.notify_order(event="order_created", order=new, data={"money": str(price - credit)})
    return old, new
