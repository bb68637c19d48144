"""Package instances: renew and change configuration (the operations that keep an instance's
status and move money through a consume order)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.models import LedgerEntry
from billing.services import account_refund
from config.db import retry_on_conflict
from orders.engine.billing import (
    period_key,
    usage_record_write,
)
from orders.engine.models import SubscriptionLine
from orders.engine.price_claims import prices_claim
from orders.package.consume import consume_mark_paid, consume_records_pay
from orders.package.errors import PackageInstanceStateError
from orders.package.models import ConsumeOrder, ConsumeOrderType, PackageOrder
from orders.package.quote import ChangeQuote, RenewQuote, quote_change, quote_renew, renewable_lines
from orders.package.services import OperationResult, renew_due_at
from orders.package.specs import ComponentChange
from orders.package.transitions import (
    instance_lock,
    order_event_append,
)
from usage.models import UsageKind, UsageRecord, UsageStatus

# --- renew -----------------------------------------------------------------------------------------


@retry_on_conflict
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
        cycles, end = quote.cycles, quote.end
        consume = ConsumeOrder.objects.create(order=order, instance=instance, type=ConsumeOrderType.RENEW)
        records = _write_renewal_records(prod_inst_id_ext=prod_inst_id_ext, quote=quote)
        total, entry = _pay_renewal(
            consume=consume,
            order=order,
            records=records,
            quote=quote,
            prod_inst_id_ext=prod_inst_id_ext,
            charge_channel=charge_channel,
            actor=actor,
            at=at,
        )
        _advance_paid_span(prepaid, auto_renew=sub.auto_renew, cycles=cycles, end=end)
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
                **_discount_data(quote),
                **({"note": note} if note else {}),
            },
        )
    return OperationResult(
        order=order, cost=total, amount_payable=total, consume_order=consume, extra={"paid_until": end}
    )


def _discount_data(quote: RenewQuote) -> dict[str, Any]:
    """The event's ``discount`` and the period indexes it covered, per component (when any)."""
    if not quote.discount:
        return {}
    periods = {rl.line.component_id: list(rl.discounted) for rl in quote.lines if rl.discounted}
    return {"discount": str(quote.discount), "discounted_periods": periods}


def _write_renewal_records(*, prod_inst_id_ext: str, quote: RenewQuote) -> list[UsageRecord]:
    """One ``renew`` record per prepaid line for the quoted span (net, with the order's promotion
    as its ``discount``); each line takes the price in force at the span's start (saved by
    ``_advance_paid_span``). A span already billed is refused."""
    start, end = quote.start, quote.end
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
            quantity=Decimal(quote.cycles),
            price_rule_id=price.rule_id,
            price_read=price.price,
            discount=rl.discount,
        )
        if not created:
            raise PackageInstanceStateError(
                f"instance {prod_inst_id_ext}: the period from {start.isoformat()} is already billed"
            )
        records.append(record)
        ln.price = price.price
        ln.price_rule_id = price.rule_id
    return records


def _pay_renewal(
    *,
    consume: ConsumeOrder,
    order: PackageOrder,
    records: list[UsageRecord],
    quote: RenewQuote,
    prod_inst_id_ext: str,
    charge_channel: str,
    actor: Any,
    at: datetime,
) -> tuple[Decimal, LedgerEntry | None]:
    """One charge for the renewal's records (idempotent per instance and span start); records of a
    free renewal (no entry) are paid all the same."""
    total, entry = consume_records_pay(
        consume=consume,
        order=order,
        records=records,
        idempotency_key=f"pkg-renew:{prod_inst_id_ext}:{period_key(quote.start)}",
        memo=f"renew {prod_inst_id_ext} x{quote.cycles} ({charge_channel or 'balance'})",
        actor=actor,
        at=at,
    )
    if entry is None:
        UsageRecord.objects.filter(pk__in=[r.pk for r in records]).update(status=UsageStatus.PAID, paid_at=at)
    return total, entry


def _advance_paid_span(
    prepaid: list[SubscriptionLine], *, auto_renew: bool, cycles: int, end: datetime
) -> None:
    """Every prepaid line is paid ``cycles`` more periods, until ``end`` (and renews again before it
    when the subscription auto-renews)."""
    new_billed = prepaid[0].periods_billed + cycles
    for ln in prepaid:
        ln.periods_billed = new_billed
        ln.paid_until = end
        ln.next_run_at = renew_due_at(ln) if auto_renew else None
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


# --- change configuration --------------------------------------------------------------------------


@retry_on_conflict
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
    through ``change`` records and a consume order ``change``, in one ledger entry (the order's
    promotion re-prices the covered part net: ``orders.package.promotions.change_amounts``).

    Prepaid lines: difference x the unused part of each paid period (``unused_by_period``). Hourly
    lines: the rest of the paid hour. Postpaid lines: no proration; the new unit price bills the
    running period.
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = instance_lock(prod_inst_id_ext, account_id)
        order, instance, lines = locked.order, locked.instance, locked.lines
        quote = quote_change(instance=instance, lines=lines, plan_id=plan_id, changes=changes, at=at)
        plan = quote.plan
        consume = ConsumeOrder.objects.create(order=order, instance=instance, type=ConsumeOrderType.CHANGE)
        records = _write_change_records(quote=quote, consume=consume, at=at)
        net = _settle_change(
            consume=consume,
            order=order,
            records=records,
            prod_inst_id_ext=prod_inst_id_ext,
            actor=actor,
            at=at,
        )
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
            data={
                "plan_id": plan.plan_id,
                "net": str(net),
                "consume_order": consume.pk,
                **({"discount": str(quote.discount)} if quote.discount else {}),
            },
        )
    return OperationResult(order=order, cost=net, amount_payable=max(net, Decimal(0)), consume_order=consume)


def _write_change_records(*, quote: ChangeQuote, consume: ConsumeOrder, at: datetime) -> list[UsageRecord]:
    """A ``change`` record for each line whose difference is billed (prorated from ``at`` to the
    line's ``paid_until``), and every changed line saved with its new attributes, plan and price."""
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
                discount=change.discount,
                price_rule_id=after.rule_id,
                price_read=after.price,
            )
            records.append(record)
        ln.attrs = change.attrs
        ln.plan = quote.plan
        ln.price = after.price
        ln.price_rule_id = after.rule_id
        ln.save(update_fields=["attrs", "plan", "price", "price_rule", "updated_at"])
        prices_claim(rules=[(after.rule_id, after.price)], at=at)  # the line keeps it for later records
    return records


def _settle_change(
    *,
    consume: ConsumeOrder,
    order: PackageOrder,
    records: list[UsageRecord],
    prod_inst_id_ext: str,
    actor: Any,
    at: datetime,
) -> Decimal:
    """Charge the records' net in one entry, or refund it when it is a credit; the records and the
    consume order are then paid by that entry. Returns the net."""
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
        UsageRecord.objects.filter(pk__in=[r.pk for r in records]).exclude(status=UsageStatus.PAID).update(
            status=UsageStatus.PAID, ledger_entry=entry, paid_at=at
        )
    consume_mark_paid(consume, amount=net, entry=entry, at=at)
    return net
