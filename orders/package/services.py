"""Package orders (docs/package-orders.md) on the subscription engine: create, cancel and charge,
and the inputs every package operation takes. Instances are renewed and reconfigured in
``instances.py``, paused, resumed, stopped and suspended in ``lifecycle.py``.

Every state change locks the account row, then the order row, then the instance and its lines (the
project's fixed lock order), checks the allowed move (``transitions.py``), writes, and appends a
``PackageOrderEvent``. Money moves only through ``orders.engine.billing`` (``records_pay``,
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
from billing.promotions import promotion_redeem
from config.db import retry_on_conflict
from config.exceptions import InvalidInput
from config.money import to_money
from orders.engine.billing import (
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
from orders.engine.price_claims import prices_claim
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
from orders.package.quote import PricedProduct, component_discount, line_cycle, quote_create
from orders.package.specs import InstanceSpec, ProductSpec
from orders.package.transitions import (
    instance_move,
    instance_statuses_for,
    order_event_append,
    order_transition,
)
from plans.models import BillingMode, Cycle
from usage.models import UsageKind, UsageRecord, UsageStatus

HOUR = timedelta(hours=1)


# --- inputs ----------------------------------------------------------------------------------------


@dataclass
class OperationResult:
    """What the API answers for create / charge / renew / change-config (the seed's fields)."""

    order: PackageOrder
    cost: Decimal
    amount_payable: Decimal
    consume_order: ConsumeOrder | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def consume_order_id(self) -> int | None:
        return self.consume_order.pk if self.consume_order else None

    @property
    def ledger_entry_id(self) -> int | None:
        """The consume order's entry when there is one, else the order's (a charge)."""
        return self.consume_order.ledger_entry_id if self.consume_order else self.order.ledger_entry_id


def _attrs_of(pairs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {str(p["attr_id"]): p.get("attr_value") for p in pairs}


def renew_due_at(line: SubscriptionLine) -> datetime | None:
    """When the auto-renew runner should renew a prepaid line: a lead before ``paid_until``."""
    if line.paid_until is None:
        return None
    lead = {Cycle.HOUR: timedelta(minutes=10), Cycle.DAY: HOUR}.get(line.cycle, timedelta(days=1))  # type: ignore[call-overload]
    return line.paid_until - lead


def _new_order_id() -> str:
    return "PO" + uuid.uuid4().hex[:22].upper()


# --- create ----------------------------------------------------------------------------------------


@retry_on_conflict
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
    coupon: str | None = None,
) -> OperationResult:
    """NBCreatePrdOrder: price everything first (any pricing error, or a refused ``coupon``, writes
    nothing), then write the order, per instance a subscription with one line per component, the
    unpaid first-period records (net of the coupon's discount) and one consume order ``new``
    gathering them. The charge redeems the coupon."""
    at = at or timezone.now()
    quote = quote_create(products=products, at=at, account_id=account_id, coupon=coupon)
    priced, promotion = quote.priced, quote.promotion

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
            records = [
                record
                for p in priced
                for inst in p.product.instances
                for record in _instance_create(order=order, priced=p, inst=inst, at=at, promotion=promotion)
            ]
            total = to_money(sum((r.amount for r in records), Decimal(0)))
            discount = to_money(sum((r.discount for r in records), Decimal(0)))
            consume = ConsumeOrder.objects.create(order=order, type=ConsumeOrderType.NEW, amount=total)
            ConsumeOrderRecord.objects.bulk_create(
                [ConsumeOrderRecord(consume_order=consume, record=r) for r in records]
            )
            order.cost = total
            order.amount_payable = total
            order.promotion = promotion
            order.discount = discount
            order.save(update_fields=["cost", "amount_payable", "promotion", "discount", "updated_at"])
            coupon_data = {"coupon": promotion.code, "discount": str(discount)} if promotion else {}
            order_event_append(
                order=order,
                reason="created",
                at=at,
                actor=actor,
                to_status=order.status,
                data={"cost": str(total), **coupon_data},
            )
    except IntegrityError as exc:  # an instance id taken by a concurrent create
        raise InvalidInput(
            "an instance id of this order was just taken by another order",
            errors={"order_product_set": ["an instance id already exists"]},
        ) from exc
    return OperationResult(order=order, cost=total, amount_payable=total, consume_order=consume)


def _instance_create(
    *, order: PackageOrder, priced: PricedProduct, inst: InstanceSpec, at: datetime, promotion: Any = None
) -> list[UsageRecord]:
    """One instance of a new order: its pending subscription (anchored at ``at``), the instance, and
    per priced component a pending line; returns the unpaid first-period records."""
    product, plan = priced.product, priced.plan
    sub = Subscription.objects.create(
        account_id=order.account_id,
        kind=SubscriptionKind.PACKAGE,
        order_ref=order.order_id,
        status=SubscriptionStatus.PENDING,
        anchor=at,
        auto_renew=inst.is_auto_renew,
    )
    ProductInstance.objects.create(
        order=order,
        account_id=order.account_id,
        prod_id=product.prod_id,
        prod_name=product.prod_name,
        plan_id=plan.plan_id,
        attrs=product.attrs,
        prod_inst_id_ext=inst.prod_inst_id_ext,
        is_auto_renew=inst.is_auto_renew,
        subscription=sub,
    )
    records: list[UsageRecord] = []
    for cost in priced.cost.components:
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
        # The line keeps the price for its later records (a postpaid one has none yet): claimed now.
        prices_claim(rules=[(cost.rule_id, cost.price)], at=at)
        line.subscription = sub
        if cost.billing_mode in (BillingMode.PREPAID, BillingMode.HOURLY):  # postpaid bills in arrears
            period = period_of(anchor=at, cycle=cycle, index=1)
            record, _ = usage_record_write(
                line=line,
                period_start=period.start,
                period_end=period.end,
                key=period.key,
                kind=UsageKind.NEW,
                unit_price=cost.price,
                price_rule_id=cost.rule_id,
                price_read=cost.price,
                discount=component_discount(promotion, priced=priced, cost=cost),
            )
            records.append(record)
    return records


# --- cancel ----------------------------------------------------------------------------------------


@retry_on_conflict
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


@retry_on_conflict
def package_order_charge(*, order_pk: int, actor: Any = None, at: datetime | None = None) -> OperationResult:
    """NBChargePrdOrder: one ledger entry for every unpaid record of the order, and in the same
    transaction every instance running, its subscription billing and its lines running with their
    clocks anchored at the payment time. A repeat (or a concurrent call that waited for the lock)
    finds the order paid and returns the same result."""
    at = at or timezone.now()

    def pay_and_start(order: PackageOrder) -> dict[str, Any]:
        if order.promotion_id is not None:  # under the account lock, before the charge
            promotion_redeem(
                account_id=order.account_id,
                promotion_id=order.promotion_id,
                subject=("package_order", order.order_id),
                field="coupon",
                at=at,
                actor=actor,
            )
        records, total, entry = _unpaid_records_pay(order=order, actor=actor, at=at)
        _instances_start(order=order, first_records={r.line_id: r for r in records}, actor=actor, at=at)
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


def _unpaid_records_pay(
    *, order: PackageOrder, actor: Any, at: datetime
) -> tuple[list[UsageRecord], Decimal, LedgerEntry | None]:
    """Every unpaid record of the order paid by one ledger entry (none when they sum to zero)."""
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
        UsageRecord.objects.filter(pk__in=[r.pk for r in records]).update(status=UsageStatus.PAID, paid_at=at)
    return records, total, entry


def _instances_start(
    *, order: PackageOrder, first_records: dict[int | None, UsageRecord], actor: Any, at: datetime
) -> None:
    """Every instance of a paid order running: its subscription billing from ``at``, its lines
    started there (each line's first record, if any, moved onto that period)."""
    for instance in order.instances.select_related("subscription").select_for_update():
        sub = instance.subscription
        sub.anchor = at
        sub.status = SubscriptionStatus.BILLING
        sub.save(update_fields=["anchor", "status", "updated_at"])
        for line in SubscriptionLine.objects.select_for_update().filter(subscription=sub):
            line.subscription = sub
            _line_start(line=line, record=first_records.get(line.pk), at=at)
        instance_move(
            instance=instance,
            order=order,
            to=InstanceStatus.RUNNING,
            action="charge",
            reason="charged",
            at=at,
            actor=actor,
        )


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
        line.next_run_at = renew_due_at(line) if line.subscription.auto_renew else None
    elif line.billing_mode == BillingMode.HOURLY:
        line.periods_billed = 1
        line.paid_until = first.end
        line.next_run_at = first.end
    else:
        line.periods_billed = 0
        line.paid_until = None
        line.next_run_at = first.end
    line.save(update_fields=["status", "periods_billed", "paid_until", "next_run_at", "updated_at"])
