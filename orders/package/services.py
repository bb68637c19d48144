"""Package orders (DOMAIN.md 6, seed 002) on the subscription engine.

Every state change is one function here: it locks the account row, then the order row, then the
instance and its lines (the project's fixed lock order), checks the allowed transition, writes, and
appends a ``PackageOrderEvent``. Money moves only through ``orders.engine.billing`` (``records_pay``,
``line_charge_period``, ``line_bill_metered_period``) and ``billing.services`` (refunds), inside the
same transaction as the state change, so a failed charge leaves nothing behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.locks import account_lock
from billing.models import LedgerEntry
from billing.services import account_refund
from config.db import retry_on_deadlock
from config.exceptions import InvalidInput
from config.money import to_money
from orders.engine.billing import (
    hour_index_at,
    line_bill_metered_period,
    line_charge_period,
    period_key,
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
from orders.package.errors import PackageInstanceStateError
from orders.package.models import (
    ConsumeOrder,
    ConsumeOrderRecord,
    ConsumeOrderStatus,
    ConsumeOrderType,
    InstanceStatus,
    PackageOrder,
    PackageOrderStatus,
    ProductInstance,
)
from orders.package.quote import (
    line_cycle,
    quote_change,
    quote_create,
    quote_renew,
    renewable_lines,
)
from orders.package.transitions import (
    LockedInstance,
    instance_lock,
    instance_may_move,
    instance_move,
    instance_statuses_for,
    instance_transition,
    order_event_append,
    order_transition,
)
from plans.models import BillingMode, Cycle
from usage.models import UsageKind, UsageRecord, UsageStatus

HOUR = timedelta(hours=1)


# --- inputs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstanceSpec:
    prod_inst_id_ext: str
    is_auto_renew: bool = False


@dataclass(frozen=True)
class ProductSpec:
    prod_id: str
    plan_id: str
    attrs: dict[str, Any]
    instances: list[InstanceSpec]
    prod_name: str = ""


@dataclass(frozen=True)
class ComponentChange:
    component_id: str
    attrs: dict[str, Any]


@dataclass
class OperationResult:
    """What the API answers for create / charge / renew / change-config (the seed's fields)."""

    order: PackageOrder
    cost: Decimal
    amount_payable: Decimal
    consume_order: ConsumeOrder | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# --- small helpers ---------------------------------------------------------------------------------


def _consume_records_pay(
    *,
    consume: ConsumeOrder,
    order: PackageOrder,
    records: list[UsageRecord],
    idempotency_key: str,
    memo: str,
    actor: Any,
    at: datetime,
) -> tuple[Decimal, LedgerEntry | None]:
    """Link ``records`` to the consume order and, when their sum is positive, charge it in one
    ledger entry. Returns the sum and the entry (None when nothing was charged: zero or a credit,
    which the caller settles)."""
    total = to_money(sum((r.amount for r in records), Decimal(0)))
    links = [ConsumeOrderRecord(consume_order=consume, record=r) for r in records]
    ConsumeOrderRecord.objects.bulk_create(links)
    if total <= 0:
        return total, None
    posting = records_pay(
        account_id=order.account_id,
        records=records,
        idempotency_key=idempotency_key,
        subject=("package_order", order.order_id),
        actor=actor if getattr(actor, "pk", None) else None,
        memo=memo,
        at=at,
    )
    return total, posting.entry


def _consume_paid(consume: ConsumeOrder, *, amount: Decimal, entry: LedgerEntry | None, at: datetime) -> None:
    consume.amount = amount
    consume.status = ConsumeOrderStatus.PAID
    consume.paid_at = at
    consume.ledger_entry = entry
    consume.save(update_fields=["amount", "status", "paid_at", "ledger_entry"])


def _attrs_of(pairs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {str(p["attr_id"]): p.get("attr_value") for p in pairs}


def _renew_due_at(line: SubscriptionLine) -> datetime | None:
    """When the auto-renew runner should renew a prepaid line: a lead before ``paid_until``."""
    if line.paid_until is None:
        return None
    lead = {Cycle.HOUR: timedelta(minutes=10), Cycle.DAY: HOUR}.get(line.cycle, timedelta(days=1))  # type: ignore[call-overload]
    return line.paid_until - lead


def _new_order_id() -> str:
    return "PO" + uuid.uuid4().hex[:22].upper()


# --- create ----------------------------------------------------------------------------------------


@retry_on_deadlock
def package_order_create(
    *,
    account_id: int,
    app_id: str,
    order_user_name: str,
    description: str,
    extra_info: Any,
    products: Sequence[ProductSpec],
    actor: Any = None,
    at: datetime | None = None,
) -> OperationResult:
    """NBCreatePrdOrder: price everything first (any pricing error writes nothing), then write the
    order, per instance a subscription with one line per component, the unpaid first-period records
    and one consume order ``new`` gathering them."""
    at = at or timezone.now()
    priced = [
        (p.product, p.plan, p.cost)
        for p in quote_create(products=products, at=at, account_id=account_id).priced
    ]

    try:
        with transaction.atomic():
            account_lock(account_id)
            order = PackageOrder.objects.create(
                order_id=_new_order_id(),
                account_id=account_id,
                app_id=app_id,
                order_user_name=order_user_name,
                description=description,
                extra_info=extra_info if extra_info is not None else {},
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            records: list[UsageRecord] = []
            for product, plan, result in priced:
                for inst in product.instances:
                    sub = Subscription.objects.create(
                        account_id=account_id,
                        kind=SubscriptionKind.PACKAGE,
                        order_ref=order.order_id,
                        status=SubscriptionStatus.PENDING,
                        anchor=at,
                        auto_renew=inst.is_auto_renew,
                    )
                    ProductInstance.objects.create(
                        order=order,
                        account_id=account_id,
                        prod_id=product.prod_id,
                        prod_name=product.prod_name,
                        plan_id=plan.plan_id,
                        attrs=product.attrs,
                        prod_inst_id_ext=inst.prod_inst_id_ext,
                        is_auto_renew=inst.is_auto_renew,
                        subscription=sub,
                    )
                    for cost in result.components:
                        cycle = line_cycle(cost)
                        line = SubscriptionLine.objects.create(
                            subscription=sub,
                            component_id=cost.component_id,
                            plan=plan,
                            billing_mode=cost.billing_mode,
                            cycle=cycle,
                            attrs=product.attrs,
                            price=cost.price,
                            price_rule_id=cost.rule_id,
                            status=LineStatus.PENDING,
                        )
                        line.subscription = sub
                        if cost.billing_mode in (BillingMode.PREPAID, BillingMode.HOURLY):
                            period = period_of(anchor=at, cycle=cycle, index=1)
                            record, _ = usage_record_write(
                                line=line,
                                period_start=period.start,
                                period_end=period.end,
                                key=period.key,
                                kind=UsageKind.NEW,
                                unit_price=cost.price,
                                price_rule_id=cost.rule_id,
                            )
                            records.append(record)
            total = to_money(sum((r.amount for r in records), Decimal(0)))
            consume = ConsumeOrder.objects.create(order=order, type=ConsumeOrderType.NEW, amount=total)
            ConsumeOrderRecord.objects.bulk_create(
                [ConsumeOrderRecord(consume_order=consume, record=r) for r in records]
            )
            order.cost = total
            order.amount_payable = total
            order.save(update_fields=["cost", "amount_payable", "updated_at"])
            order_event_append(
                order=order,
                reason="created",
                at=at,
                actor=actor,
                to_status=order.status,
                data={"cost": str(total)},
            )
    except IntegrityError as exc:  # an instance id taken by a concurrent create
        raise InvalidInput(
            "an instance id of this order was just taken by another order",
            errors={"order_product_set": ["an instance id already exists"]},
        ) from exc
    return OperationResult(order=order, cost=total, amount_payable=total, consume_order=consume)


# --- cancel ----------------------------------------------------------------------------------------


@retry_on_deadlock
def package_order_cancel(
    *, order_pk: int, actor: Any = None, at: datetime | None = None, note: str = ""
) -> PackageOrder:
    """NBCancelPrdOrder: only an unpaid order; it and everything it created become ``canceled``.
    ``note`` (the admin's reason) is kept in the event."""
    at = at or timezone.now()

    def cancel_everything(order: PackageOrder) -> dict[str, Any] | None:
        sub_ids = list(order.instances.values_list("subscription_id", flat=True))
        order.instances.filter(status__in=instance_statuses_for("cancel", InstanceStatus.CANCELED)).update(
            status=InstanceStatus.CANCELED, updated_at=at
        )
        Subscription.objects.filter(pk__in=sub_ids).update(status=SubscriptionStatus.CANCELED, updated_at=at)
        SubscriptionLine.objects.filter(subscription_id__in=sub_ids).update(
            status=LineStatus.CANCELED, next_run_at=None, updated_at=at
        )
        UsageRecord.objects.filter(
            source=SubscriptionKind.PACKAGE, order_ref=order.order_id, status=UsageStatus.UNPAID
        ).update(status=UsageStatus.CANCELED)
        order.consume_orders.filter(status=ConsumeOrderStatus.UNPAID).update(
            status=ConsumeOrderStatus.CANCELED
        )
        order.canceled_at = at
        order.amount_payable = Decimal(0)
        return {"note": note} if note else None

    with transaction.atomic():
        order, _ = order_transition(
            order_pk=order_pk,
            to=PackageOrderStatus.CANCELED,
            action="cancel",
            refusal="order {order_id} is {status}: only an unpaid order can be canceled",
            reason="canceled",
            at=at,
            actor=actor,
            effect=cancel_everything,
            fields=("canceled_at", "amount_payable"),
        )
    return order


# --- charge ----------------------------------------------------------------------------------------


def charge_key(order_id: str) -> str:
    return f"pkg-order:{order_id}:charge"


@retry_on_deadlock
def package_order_charge(*, order_pk: int, actor: Any = None, at: datetime | None = None) -> OperationResult:
    """NBChargePrdOrder: one ledger entry for every unpaid record of the order, and in the same
    transaction every instance running, its subscription billing and its lines running with their
    clocks anchored at the payment time. A repeat (or a concurrent call that waited for the lock)
    finds the order paid and returns the same result."""
    at = at or timezone.now()

    def pay_and_start(order: PackageOrder) -> dict[str, Any]:
        records = list(
            UsageRecord.objects.filter(
                source=SubscriptionKind.PACKAGE, order_ref=order.order_id, status=UsageStatus.UNPAID
            ).order_by("pk")
        )
        total = to_money(sum((r.amount for r in records), Decimal(0)))
        entry = None
        if records and total > 0:
            posting = records_pay(
                account_id=order.account_id,
                records=records,
                idempotency_key=charge_key(order.order_id),
                subject=("package_order", order.order_id),
                actor=actor if getattr(actor, "pk", None) else None,
                memo=f"package order {order.order_id}",
                at=at,
            )
            entry = posting.entry
        elif records:
            UsageRecord.objects.filter(pk__in=[r.pk for r in records]).update(
                status=UsageStatus.PAID, paid_at=at
            )
        by_line = {r.line_id: r for r in records}
        for instance in order.instances.select_related("subscription").select_for_update():
            sub = instance.subscription
            sub.anchor = at
            sub.status = SubscriptionStatus.BILLING
            sub.save(update_fields=["anchor", "status", "updated_at"])
            for line in SubscriptionLine.objects.select_for_update().filter(subscription=sub):
                line.subscription = sub
                _line_start(line=line, record=by_line.get(line.pk), at=at)
            instance_move(
                instance=instance,
                order=order,
                to=InstanceStatus.RUNNING,
                action="charge",
                reason="charged",
                at=at,
                actor=actor,
            )
        order.consume_orders.filter(status=ConsumeOrderStatus.UNPAID).update(
            status=ConsumeOrderStatus.PAID, paid_at=at, ledger_entry=entry
        )
        order.paid_at = at
        order.ledger_entry = entry
        return {"amount": str(total), "ledger_entry": entry.pk if entry else None}

    with transaction.atomic():
        order, _ = order_transition(
            order_pk=order_pk,
            to=PackageOrderStatus.PAID,
            action="charge",
            refusal="order {order_id} is {status} and cannot be paid",
            reason="charged",
            at=at,
            actor=actor,
            effect=pay_and_start,
            fields=("paid_at", "ledger_entry"),
        )
    return OperationResult(order=order, cost=order.cost, amount_payable=order.amount_payable)


def _line_start(*, line: SubscriptionLine, record: UsageRecord | None, at: datetime) -> None:
    """Start a line's clock at ``at`` (the payment time) and move its first record onto that period."""
    first = period_of(anchor=at, cycle=line.cycle, index=1)
    if record is not None:
        UsageRecord.objects.filter(pk=record.pk).update(
            period_start=first.start, period_end=first.end, period_key=first.key
        )
    line.status = LineStatus.RUNNING
    if line.billing_mode == BillingMode.PREPAID:
        line.periods_billed = 1
        line.paid_until = first.end
        line.next_run_at = _renew_due_at(line) if line.subscription.auto_renew else None
    elif line.billing_mode == BillingMode.HOURLY:
        line.periods_billed = 1
        line.paid_until = first.end
        line.next_run_at = first.end
    else:
        line.periods_billed = 0
        line.paid_until = None
        line.next_run_at = first.end
    line.save(update_fields=["status", "periods_billed", "paid_until", "next_run_at", "updated_at"])


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
        total, entry = _consume_records_pay(
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
            ln.next_run_at = _renew_due_at(ln) if sub.auto_renew else None
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
        _consume_paid(consume, amount=total, entry=entry, at=at)
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


# --- pause / resume / stop -------------------------------------------------------------------------


@retry_on_deadlock
def instance_pause(
    *, prod_inst_id_ext: str, account_id: int | None = None, actor: Any = None, at: datetime | None = None
) -> ProductInstance:
    """A paused instance is not billed: its lines leave the billing-job scan until resumed."""
    at = at or timezone.now()

    def stop_billing(locked: LockedInstance) -> None:
        locked.subscription.status = SubscriptionStatus.PAUSED
        locked.subscription.save(update_fields=["status", "updated_at"])
        for ln in locked.lines:
            if ln.status == LineStatus.RUNNING:
                ln.status = LineStatus.PAUSED
                ln.save(update_fields=["status", "updated_at"])

    with transaction.atomic():
        locked, _ = instance_transition(
            prod_inst_id_ext=prod_inst_id_ext,
            account_id=account_id,
            to=InstanceStatus.PAUSED,
            action="pause",
            refusal="instance {ext} is {status}: only a running instance pauses",
            reason="paused",
            at=at,
            actor=actor,
            effect=stop_billing,
        )
    return locked.instance


@retry_on_deadlock
def instance_resume(
    *, prod_inst_id_ext: str, account_id: int | None = None, actor: Any = None, at: datetime | None = None
) -> ProductInstance:
    """Resume a paused (or suspended) instance. An hourly line whose paid hour has run out is charged
    the hour that contains ``at`` now (hours while paused are not billed); if that charge fails,
    nothing changes (3403)."""
    at = at or timezone.now()

    def start_billing(locked: LockedInstance) -> None:
        order, sub = locked.order, locked.subscription
        sub.status = SubscriptionStatus.BILLING
        sub.save(update_fields=["status", "updated_at"])
        for ln in locked.lines:
            if ln.status != LineStatus.PAUSED:
                continue
            ln.status = LineStatus.RUNNING
            ln.save(update_fields=["status", "updated_at"])
            if ln.billing_mode == BillingMode.HOURLY and (ln.paid_until is None or ln.paid_until <= at):
                ln.periods_billed = hour_index_at(anchor=sub.anchor, at=at) - 1
                ln.save(update_fields=["periods_billed", "updated_at"])
                charge = line_charge_period(
                    line_id=ln.pk,
                    unit_price=ln.price,
                    kind=UsageKind.HOURLY,
                    price_rule_id=ln.price_rule_id,
                    subject=("package_order", order.order_id),
                    at=at,
                )
                SubscriptionLine.objects.filter(pk=ln.pk).update(next_run_at=charge.period.end)

    with transaction.atomic():
        locked, _ = instance_transition(
            prod_inst_id_ext=prod_inst_id_ext,
            account_id=account_id,
            to=InstanceStatus.RUNNING,
            action="resume",
            refusal="instance {ext} is {status}: only a paused or suspended one resumes",
            reason="resumed",
            at=at,
            actor=actor,
            effect=start_billing,
        )
    return locked.instance


def hourly_stop_refund(
    *, paid_until: datetime, at: datetime, hour_amount: Decimal
) -> tuple[Decimal, Decimal]:
    """(hours unused, refund) of the prepaid hour ending at ``paid_until`` when stopped at ``at``:
    the unused seconds / 3600 of what that hour cost, half-up to 4 places."""
    unused = max(min(paid_until - at, HOUR), timedelta(0))
    fraction = Decimal(int(unused.total_seconds())) / Decimal(3600)
    return fraction.quantize(Decimal("0.0001")), to_money(hour_amount * fraction)


@retry_on_deadlock
def instance_stop(
    *, prod_inst_id_ext: str, account_id: int | None = None, actor: Any = None, at: datetime | None = None
) -> OperationResult:
    """NBStopProdInstance: subscription stopped, jobs stopped, final settlement in one transaction:
    the unused part of a prepaid hour refunded as a negative record; the last (partial) postpaid
    period billed (arrears if unpaid); paid prepaid periods are not refunded."""
    at = at or timezone.now()
    settled = {"refunded": Decimal(0), "postpaid_billed": Decimal(0)}

    def settle_and_stop(locked: LockedInstance) -> dict[str, Any]:
        order, sub = locked.order, locked.subscription
        for ln in locked.lines:
            if ln.status in (LineStatus.STOPPED, LineStatus.CANCELED):
                continue
            if ln.billing_mode == BillingMode.HOURLY and ln.paid_until and ln.paid_until > at:
                settled["refunded"] += _refund_hour(line=ln, order=order, at=at, actor=actor)
            elif ln.billing_mode == BillingMode.POSTPAID:
                settled["postpaid_billed"] += _bill_last_periods(line=ln, order=order, at=at)
            SubscriptionLine.objects.filter(pk=ln.pk).update(
                status=LineStatus.STOPPED, next_run_at=None, updated_at=at
            )
        sub.status = SubscriptionStatus.STOPPED
        sub.save(update_fields=["status", "updated_at"])
        return {key: str(value) for key, value in settled.items()}

    with transaction.atomic():
        locked, moved = instance_transition(
            prod_inst_id_ext=prod_inst_id_ext,
            account_id=account_id,
            to=InstanceStatus.STOPPED,
            action="stop",
            refusal="instance {ext} is {status}: an unpaid order is canceled, not stopped",
            reason="stopped",
            at=at,
            actor=actor,
            effect=settle_and_stop,
        )
    if not moved:
        return OperationResult(
            order=locked.order, cost=Decimal(0), amount_payable=Decimal(0), extra={"replayed": True}
        )
    refunded, billed = settled["refunded"], settled["postpaid_billed"]
    return OperationResult(
        order=locked.order,
        cost=billed - refunded,
        amount_payable=Decimal(0),
        extra={"refunded": refunded, "postpaid_billed": billed},
    )


def _bill_last_periods(*, line: SubscriptionLine, order: PackageOrder, at: datetime) -> Decimal:
    """Bill a stopped postpaid line's ended periods, then the partial one up to ``at``."""
    billed = Decimal(0)
    while True:
        done = line_bill_metered_period(line_id=line.pk, at=at, subject=("package_order", order.order_id))
        if done is None:
            break
        billed += done.record.amount
    final = line_bill_metered_period(
        line_id=line.pk, at=at, final_end=at, subject=("package_order", order.order_id)
    )
    if final is not None:
        billed += final.record.amount
    return billed


def _refund_hour(*, line: SubscriptionLine, order: PackageOrder, at: datetime, actor: Any = None) -> Decimal:
    assert line.paid_until is not None  # noqa: S101 - checked by the caller
    hour_start = line.paid_until - HOUR
    paid = UsageRecord.objects.filter(
        line_id=line.pk, period_key=period_key(hour_start), status=UsageStatus.PAID
    ).first()
    if paid is None:
        return Decimal(0)
    hours, refund = hourly_stop_refund(paid_until=line.paid_until, at=at, hour_amount=paid.amount)
    if refund <= 0:
        return Decimal(0)
    record, created = usage_record_write(
        line=line,
        period_start=max(at, hour_start),
        period_end=line.paid_until,
        key="stop-refund",
        kind=UsageKind.REFUND,
        unit_price=paid.unit_price,
        quantity=-hours,
        amount=-refund,
        status=UsageStatus.UNPAID,
        price_rule_id=paid.price_rule_id,
    )
    if not created:
        return Decimal(0)
    posting = account_refund(
        account_id=order.account_id,
        amount=refund,
        idempotency_key=f"line:{line.pk}:stop-refund",
        subject=("package_order", order.order_id),
        actor=actor,  # the credit note names who stopped it
        memo=f"unused part of the hour of {line}",
    )
    UsageRecord.objects.filter(pk=record.pk).update(
        status=UsageStatus.PAID, ledger_entry=posting.entry, paid_at=at
    )
    return refund


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
        net, entry = _consume_records_pay(
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
        _consume_paid(consume, amount=net, entry=entry, at=at)
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


# --- suspension (billing jobs) ---------------------------------------------------------------------


def subscription_suspend(*, subscription_id: int, reason: str, at: datetime | None = None) -> None:
    """A failed hourly charge: the subscription is ``suspended``, its running lines paused, and a
    package instance ``suspended`` (resume charges again). Called inside the runner's transaction."""
    at = at or timezone.now()
    sub = Subscription.objects.select_for_update().get(pk=subscription_id)
    if sub.status != SubscriptionStatus.BILLING:
        return
    sub.status = SubscriptionStatus.SUSPENDED
    sub.save(update_fields=["status", "updated_at"])
    SubscriptionLine.objects.filter(subscription=sub, status=LineStatus.RUNNING).update(
        status=LineStatus.PAUSED, updated_at=at
    )
    instance = ProductInstance.objects.select_related("order").filter(subscription=sub).first()
    if instance is not None and instance_may_move(instance.status, InstanceStatus.SUSPENDED, "suspend"):
        instance_move(
            instance=instance,
            order=instance.order,
            to=InstanceStatus.SUSPENDED,
            action="suspend",
            reason=reason,
            at=at,
        )
