"""Package instances' lifecycle: pause, resume, stop (with the final settlement) and the
suspension the billing jobs apply when an hourly charge fails. Every move goes through
``orders.package.transitions``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.services import account_refund
from config.db import retry_on_conflict
from config.money import to_money
from orders.engine.billing import (
    Period,
    hour_index_at,
    line_bill_metered_period,
    line_charge_period,
    period_amount,
    period_key,
    usage_record_write,
)
from orders.engine.models import (
    LineStatus,
    Subscription,
    SubscriptionLine,
    SubscriptionStatus,
)
from orders.engine.promotions import line_discount, line_redemption
from orders.package.models import (
    InstanceStatus,
    PackageOrder,
    ProductInstance,
)
from orders.package.services import HOUR, OperationResult
from orders.package.transitions import (
    LockedInstance,
    instance_may_move,
    instance_move,
    instance_transition,
)
from plans.models import BillingMode
from usage.models import UsageKind, UsageRecord, UsageStatus

# --- pause / resume / stop -------------------------------------------------------------------------


@retry_on_conflict
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


@retry_on_conflict
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
                    discount=_hour_discount(ln),
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


def _hour_discount(line: SubscriptionLine) -> Callable[[Period], Decimal]:
    """The order's promotion on the hour a resume charges, as the jobs runner prices the others."""
    redemption = line_redemption(line)
    gross = period_amount(unit_price=line.price, quantity=1)
    return lambda period: line_discount(redemption, line=line, period_index=period.index, gross=gross)


def hourly_stop_refund(
    *, paid_until: datetime, at: datetime, hour_amount: Decimal
) -> tuple[Decimal, Decimal]:
    """(hours unused, refund) of the prepaid hour ending at ``paid_until`` when stopped at ``at``:
    the unused seconds / 3600 of what that hour cost, half-up to 4 places."""
    unused = max(min(paid_until - at, HOUR), timedelta(0))
    fraction = Decimal(int(unused.total_seconds())) / Decimal(3600)
    return fraction.quantize(Decimal("0.0001")), to_money(hour_amount * fraction)


@retry_on_conflict
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
