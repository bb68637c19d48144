"""The set-based renewal of one locked chunk (B1; run by ``orders.purchase.renewal``): which periods
are due and payable (``renewals_plan``, reads only), then their writes (``renewals_write``), a fixed
number of statements whatever the chunk's size.

Both work on rows the caller has locked (accounts, then lines, then orders) inside its transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from billing.models import Account, Redemption
from billing.promotions import redemption_discount, redemptions_for
from billing.services import BatchCharge, accounts_charge_locked
from config.bulk import rows_update
from config.bulk_insert import instance_maker, rows_insert
from config.money import ZERO, to_money
from orders.engine.billing import Period, ledger_key_for, period_amount, period_of
from orders.engine.models import LineStatus, Subscription, SubscriptionLine
from orders.engine.price_claims import prices_claim
from orders.purchase import notify
from orders.purchase.models import PurchaseOrder, PurchaseOrderEvent, PurchaseOrderStatus
from orders.purchase.quote import RUNNING
from orders.purchase.subscription import renewal_lead
from orders.purchase.transitions import order_move_in_bulk
from plans.models import Plan, PriceVersion
from plans.selectors import price_versions_of, version_in_force
from usage.models import UsageKind, UsageRecord, UsageStatus

logger = logging.getLogger(__name__)

MAX_PERIODS_PER_RUN = 24  # a line far behind catches up over a few runs, never unbounded

_new_record = instance_maker(UsageRecord)  # one per renewal of a chunk (config.bulk_insert)


def line_still_due(line: SubscriptionLine, at: datetime) -> bool:
    return line.status == LineStatus.RUNNING and line.next_run_at is not None and line.next_run_at <= at


@dataclass
class DuePeriod:
    """One period to charge, priced and checked against the account's balance."""

    order: PurchaseOrder
    line: SubscriptionLine
    period: Period
    version: PriceVersion
    amount: Decimal  # charged: the period's price less ``discount``
    from_status: int
    discount: Decimal = ZERO  # the order's promotion, while its duration covers the period


@dataclass
class RenewalPlan:
    """What a chunk's renewal will write: the due periods the balances cover (in period order per
    order), and the orders whose next period they do not (with their line's paid-until)."""

    due: list[DuePeriod] = field(default_factory=list)
    unpaid: list[tuple[PurchaseOrder, datetime]] = field(default_factory=list)
    skipped: int = 0  # renewed meanwhile by another worker
    errors: int = 0  # orders waiting for a price


def renewals_plan(
    *, lines: list[SubscriptionLine], accounts: dict[int, Account], at: datetime
) -> RenewalPlan:
    """Read the locked lines' subscriptions, orders (locked here), plans and price versions, and
    price and fund every due period in Python, account by account."""
    plan = RenewalPlan()
    subscriptions = Subscription.objects.in_bulk([line.subscription_id for line in lines])
    orders = {
        order.subscription_id: order
        for order in PurchaseOrder.objects.select_for_update()
        .filter(subscription_id__in=[line.subscription_id for line in lines])
        .order_by("pk")
    }
    plans = Plan.objects.in_bulk({order.plan_id for order in orders.values()})
    versions = price_versions_of(plans)
    redemptions = redemptions_for(
        subject_type="purchase_order", subject_ids=[order.order_id for order in orders.values()]
    )
    balances = {account_id: account.balance for account_id, account in accounts.items()}
    for line in lines:
        line.subscription = subscriptions[line.subscription_id]
        order = orders.get(line.subscription_id)
        if order is None or not line_still_due(line, at):
            plan.skipped += 1
            continue
        if order.status not in RUNNING or line.paid_until is None:
            continue
        order.account = accounts[order.account_id]
        order.plan = plans[order.plan_id]
        # What this account has left after its earlier orders in the chunk.
        balances[order.account_id] = _plan_line(
            plan=plan,
            order=order,
            line=line,
            versions=versions[order.plan_id],
            balance=balances[order.account_id],
            at=at,
            redemption=redemptions.get(order.order_id),
        )
    return plan


def _plan_line(
    *,
    plan: RenewalPlan,
    order: PurchaseOrder,
    line: SubscriptionLine,
    versions: list[PriceVersion],
    balance: Decimal,
    at: datetime,
    redemption: Redemption | None = None,
) -> Decimal:
    """Add the line's due periods that ``balance`` covers to ``plan`` (none if a period has no
    price: the whole order waits, as a failed renewal would), the order to ``plan.unpaid`` if one
    is not covered; return the balance left."""
    mine: list[DuePeriod] = []
    left = balance
    lead = renewal_lead(line.cycle)
    assert line.paid_until is not None  # checked by the caller
    paid_until: datetime = line.paid_until
    status = order.status
    for index in range(line.periods_billed + 1, line.periods_billed + 1 + MAX_PERIODS_PER_RUN):
        if paid_until - lead > at:
            break
        period = period_of(anchor=line.subscription.anchor, cycle=line.cycle, index=index)
        version = version_in_force(versions, period.start)
        if version is None:
            plan.errors += 1
            logger.warning("renewal of %s: no price for %s", order.order_id, period.start.isoformat())
            return balance
        gross = period_amount(unit_price=version.price, quantity=order.quantities)
        discount = redemption_discount(redemption, period_index=period.index, gross=gross)
        amount = gross - discount
        if left - amount < 0:
            plan.unpaid.append((order, paid_until))
            break
        left -= amount
        mine.append(DuePeriod(order, line, period, version, amount, status, discount))
        paid_until, status = period.end, PurchaseOrderStatus.CONSUMING
    if not mine:
        return balance
    plan.due.extend(mine)
    return left


def renewals_write(*, due: list[DuePeriod], accounts: dict[int, Account], at: datetime) -> Decimal:
    """Every due period's ledger entry, usage record and order event, and the new balance, line
    clock and order deadline, one statement each; one notification task. Returns the money charged."""
    records = _charge_and_record(due=due, accounts=accounts, at=at)
    events, payloads = _advance(due=due, at=at)
    lines = list({d.line.pk: d.line for d in due}.values())
    line_fields = ["periods_billed", "paid_until", "next_run_at", "price", "updated_at"]
    rows_update(lines, line_fields)
    orders = list({d.order.pk: d.order for d in due}.values())
    rows_update(orders, ["status", "deadline", "last_renew_fail_notified_at", "updated_at"])
    rows_insert(events)
    prices_claim(versions=[(r.price_version_id, r.unit_price) for r in records], at=at)  # priced now
    notify.notify_orders(payloads)
    return to_money(sum((d.amount for d in due), ZERO))


def _charge_and_record(
    *, due: list[DuePeriod], accounts: dict[int, Account], at: datetime
) -> list[UsageRecord]:
    """The ledger entries (and balances) of the due periods, and their paid ``renew`` records."""
    entries = accounts_charge_locked(
        accounts=accounts,
        charges=[
            BatchCharge(
                account_id=d.order.account_id,
                amount=d.amount,
                idempotency_key=ledger_key_for(d.line.pk, d.period.key),
                subject=("purchase_order", d.order.order_id),
            )
            for d in due
        ],
    )
    records = [
        _new_record(
            account_id=d.order.account_id,
            source=d.line.subscription.kind,
            order_ref=d.line.subscription.order_ref,
            line_id=d.line.pk,
            period_key=d.period.key,
            region=d.order.region,
            plan_id=d.line.plan_id,
            price_version_id=d.version.pk,
            component_id=d.line.component_id,
            period_start=d.period.start,
            period_end=d.period.end,
            quantity=Decimal(d.order.quantities),
            unit_price=d.version.price,
            amount=d.amount,
            discount=d.discount,
            kind=UsageKind.RENEW,
            status=UsageStatus.PAID,
            ledger_entry=entry,
            paid_at=at,
        )
        for d, entry in zip(due, entries, strict=True)
    ]
    rows_insert(records)  # rolled up in this transaction by UsageRecord.rows_inserted (usage.rollups)
    return records


def _advance(*, due: list[DuePeriod], at: datetime) -> tuple[list[PurchaseOrderEvent], list[dict[str, Any]]]:
    """Move each line's clock and each order's deadline in memory (checked against the transition
    map), in period order: the last period of an order leaves its final state. Returns the unsaved
    events and the notification payloads."""
    now = timezone.now()
    events = []
    payloads = []
    for d in due:
        line, order = d.line, d.order
        line.periods_billed = d.period.index
        line.paid_until = d.period.end
        line.next_run_at = d.period.end - renewal_lead(line.cycle)
        line.price = d.version.price
        line.updated_at = now
        money = str(d.amount)
        data: dict[str, Any] = {"money": money, "period_end": d.period.end.isoformat(), "charged": True}
        if d.discount:
            data["discount"] = str(d.discount)
        events.append(
            order_move_in_bulk(
                order,
                from_status=d.from_status,
                to=PurchaseOrderStatus.CONSUMING,
                reason="renewed",
                at=at,
                data=data,
            )
        )
        order.deadline = d.period.end
        order.last_renew_fail_notified_at = None
        order.updated_at = now
        payloads.append(notify.order_payload(event="order_renewed", order=order, data={"money": money}))
    return events, payloads
