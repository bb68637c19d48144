"""Package instances: renew and change configuration (the operations that keep an instance's
status and move money through a consume order)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.services import account_refund
from config.db import retry_on_deadlock
from orders.engine.billing import (
    period_key,
    usage_record_write,
)
from orders.package.consume import consume_mark_paid, consume_records_pay
from orders.package.errors import PackageInstanceStateError
from orders.package.models import (
    ConsumeOrder,
    ConsumeOrderType,
)
from orders.package.quote import (
    quote_change,
    quote_renew,
    renewable_lines,
)
from orders.package.services import ComponentChange, OperationResult, renew_due_at
from orders.package.transitions import (
    instance_lock,
    order_event_append,
)
from usage.models import UsageKind, UsageRecord, UsageStatus

# --- renew -----------------------------------------------------------------------------------------


@retry_on_deadlock
def instance_renew(
    *,
    prod_inst_id_ext: str,
    account_id: int | None = None,
    duration: str = "1",
    charge_channel: str = "",
    actor: Any = None,
    at: datetime | None = None,
    auto: bool = False,
    note: str = "",
) -> OperationResult:
    """NBRenewProdInstance: every prepaid line of the instance renews for the same period (starting
    where the paid period ends), priced at that start, in ONE charge and one consume order ``renew``.
    With ``auto`` (the beat runner) it renews only if still due, so a second worker does nothing.
    ``note`` (the admin's reason) is kept in the event."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = instance_lock(prod_inst_id_ext, account_id)
        order, instance, sub, lines = locked.order, locked.instance, locked.subscription, locked.lines
        prepaid = renewable_lines(instance=instance, lines=lines)
        if auto and not any(ln.next_run_at is not None and ln.next_run_at <= at for ln in prepaid):
            return OperationResult(
                order=order, cost=Decimal(0), amount_payable=Decimal(0), extra={"skipped": True}
            )
        quote = quote_renew(instance=instance, sub=sub, prepaid=prepaid, duration=duration)
        first, cycles, start, end = prepaid[0], quote.cycles, quote.start, quote.end
        consume = ConsumeOrder.objects.create(order=order, instance=instance, type=ConsumeOrderType.RENEW)
        records = []
        for rl in quote.lines:
            ln, price = rl.line, rl.cost
            record, created = usage_record_write(
                line=ln,
                period_start=start,
                period_end=end,
                key=period_key(start),
                kind=UsageKind.RENEW,
                unit_price=price.price,
                quantity=Decimal(cycles),
                price_rule_id=price.rule_id,
            )
            if not created:
                raise PackageInstanceStateError(
                    f"instance {prod_inst_id_ext}: the period from {start.isoformat()} is already billed"
                )
            records.append(record)
            ln.price = price.price
            ln.price_rule_id = price.rule_id
        total, entry = consume_records_pay(
            consume=consume,
            order=order,
            records=records,
            idempotency_key=f"pkg-renew:{prod_inst_id_ext}:{period_key(start)}",
            memo=f"renew {prod_inst_id_ext} x{cycles} ({charge_channel or 'balance'})",
            actor=actor,
            at=at,
        )
        if entry is None:
            UsageRecord.objects.filter(pk__in=[r.pk for r in records]).update(
                status=UsageStatus.PAID, paid_at=at
            )
        new_billed = first.periods_billed + cycles
        for ln in prepaid:
            ln.periods_billed = new_billed
            ln.paid_until = end
            ln.next_run_at = renew_due_at(ln) if sub.auto_renew else None
            ln.save(
                update_fields=[
                    "periods_billed",
                    "paid_until",
                    "next_run_at",
                    "price",
                    "price_rule",
                    "updated_at",
                ]
            )
        consume_mark_paid(consume, amount=total, entry=entry, at=at)
        order_event_append(
            order=order,
            instance=instance,
            reason="auto_renewed" if auto else "renewed",
            at=at,
            actor=actor,
            from_status=instance.status,
            to_status=instance.status,
            data={
                "cycles": cycles,
                "amount": str(total),
                "until": end.isoformat(),
                "charge_channel": charge_channel,
                **({"note": note} if note else {}),
            },
        )
    return OperationResult(
        order=order, cost=total, amount_payable=total, consume_order=consume, extra={"paid_until": end}
    )


# --- change configuration --------------------------------------------------------------------------


@retry_on_deadlock
def instance_change_config(
    *,
    prod_inst_id_ext: str,
    account_id: int | None = None,
    plan_id: str,
    changes: Sequence[ComponentChange],
    actor: Any = None,
    at: datetime | None = None,
) -> OperationResult:
    """NBChangeProdInstanceConfig: price old and new attribute values with ``get_cost`` (any pricing
    error changes nothing) and charge or refund the difference for the rest of the current period
    through ``change`` records and a consume order ``change``, in one ledger entry.

    Prepaid lines: difference x (paid_until - now) / length of the current cycle. Hourly lines: the
    rest of the paid hour. Postpaid lines: no proration; the new unit price bills the running period.
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = instance_lock(prod_inst_id_ext, account_id)
        order, instance, lines = locked.order, locked.instance, locked.lines
        quote = quote_change(instance=instance, lines=lines, plan_id=plan_id, changes=changes, at=at)
        plan = quote.plan
        consume = ConsumeOrder.objects.create(order=order, instance=instance, type=ConsumeOrderType.CHANGE)
        records: list[UsageRecord] = []
        for change in quote.lines:
            ln, after = change.line, change.after
            if change.amount is not None:
                record, _ = usage_record_write(
                    line=ln,
                    period_start=at,
                    period_end=ln.paid_until or at,
                    key=f"change:{consume.pk}",
                    kind=UsageKind.CHANGE,
                    unit_price=change.diff,
                    quantity=change.fraction.quantize(Decimal("0.0001")),
                    amount=change.amount,
                    price_rule_id=after.rule_id,
                )
                records.append(record)
            ln.attrs = change.attrs
            ln.plan = plan
            ln.price = after.price
            ln.price_rule_id = after.rule_id
            ln.save(update_fields=["attrs", "plan", "price", "price_rule", "updated_at"])
        net, entry = consume_records_pay(
            consume=consume,
            order=order,
            records=records,
            idempotency_key=f"pkg-change:{consume.pk}",
            memo=f"change of {prod_inst_id_ext}",
            actor=actor,
            at=at,
        )
        if net < 0:
            entry = account_refund(
                account_id=order.account_id,
                amount=-net,
                idempotency_key=f"pkg-change:{consume.pk}",
                subject=("package_order", order.order_id),
                actor=actor,
                memo=f"change of {prod_inst_id_ext}",
            ).entry
        if records:
            UsageRecord.objects.filter(pk__in=[r.pk for r in records]).exclude(
                status=UsageStatus.PAID
            ).update(status=UsageStatus.PAID, ledger_entry=entry, paid_at=at)
        consume_mark_paid(consume, amount=net, entry=entry, at=at)
        instance.plan_id = plan.plan_id
        merged = dict(instance.attrs)
        for ch in changes:
            merged.update(ch.attrs)
        instance.attrs = merged
        instance.save(update_fields=["plan_id", "attrs", "updated_at"])
        order_event_append(
            order=order,
            instance=instance,
            reason="config_changed",
            at=at,
            actor=actor,
            from_status=instance.status,
            to_status=instance.status,
            data={"plan_id": plan.plan_id, "net": str(net), "consume_order": consume.pk},
        )
    return OperationResult(order=order, cost=net, amount_payable=max(net, Decimal(0)), consume_order=consume)
