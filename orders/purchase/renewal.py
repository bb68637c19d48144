"""The renewal engine for prepaid purchase orders (docs/purchase-orders.md), run by beat every 5
minutes and by ``manage.py run_billing``.

Several workers may run it at once: each chunk is one transaction that locks the accounts of its
candidate lines with ``SKIP LOCKED`` (accounts first, the fixed lock order), then the orders and
lines. A line whose account another worker holds is skipped by this run (that worker is billing
it). A second run for the same moment charges nothing: a paid period is not due any more, and the
engine's ledger key and usage-record constraint make a replayed period a no-op anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from billing.locks import accounts_lock
from billing.models import Account
from billing.promotions import redemption_discount, redemption_for
from config.db import retry_on_conflict
from config.exceptions import DomainError, InsufficientFunds
from config.money import ZERO, to_money
from orders.engine.billing import next_period, period_amount
from orders.engine.models import LineStatus, SubscriptionKind, SubscriptionLine
from orders.purchase import notify
from orders.purchase.models import PurchaseOrder, PurchaseOrderEndReason, PurchaseOrderStatus
from orders.purchase.quote import RUNNING, order_line
from orders.purchase.renewal_batch import MAX_PERIODS_PER_RUN, line_still_due, renewals_plan, renewals_write
from orders.purchase.services import renew_locked
from orders.purchase.subscription import renewal_lead, subscription_stop
from orders.purchase.transitions import order_get_locked, order_transition
from plans.models import BillingMode
from plans.selectors import price_version_in_force

logger = logging.getLogger(__name__)

NOTIFY_EVERY_SECONDS = 24 * 3600


@dataclass
class RenewalSummary:
    at: str = ""
    dry_run: bool = False
    scanned: int = 0
    renewed: int = 0  # periods charged
    money: Decimal = ZERO
    failed: int = 0  # orders that could not pay (now renewalfailed)
    ended: int = 0  # orders ended after the grace period
    skipped: int = 0  # locked by another worker, or nothing to do
    errors: int = 0
    would_charge: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["money"] = str(self.money)
        return data


def due_lines(*, at: datetime):  # type: ignore[no-untyped-def]
    """Prepaid lines of running purchase subscriptions whose next run (deadline - lead) is due."""
    return SubscriptionLine.objects.filter(
        subscription__kind=SubscriptionKind.PURCHASE,
        billing_mode=BillingMode.PREPAID,
        status=LineStatus.RUNNING,
        next_run_at__lte=at,
    )


def renewal_run(
    *,
    at: datetime,
    chunk_size: int = 100,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
) -> RenewalSummary:
    """Renew every due order once for the moment ``at``; see the module docstring."""
    summary = RenewalSummary(at=at.isoformat(), dry_run=dry_run)
    if dry_run:
        _dry_run(at=at, summary=summary)
        return summary
    cursor = 0
    while True:
        ids = list(
            due_lines(at=at).filter(pk__gt=cursor).order_by("pk").values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            break
        cursor = ids[-1]
        _renew_chunk(ids=ids, at=at, summary=summary)
        if progress:
            progress(len(ids))
    logger.info("renewal run %s", summary.as_dict())
    return summary


@retry_on_conflict
def _renew_chunk(*, ids: list[int], at: datetime, summary: RenewalSummary) -> None:
    chunk = RenewalSummary()
    try:
        with transaction.atomic():
            _renew_chunk_set_based(ids=ids, at=at, chunk=chunk)
    except IntegrityError:
        # A period of this chunk was recorded before (only possible if something billed a line
        # without advancing it). Nothing of the chunk committed; redo it one order at a time,
        # where a replayed period is found and skipped instead of failing the insert.
        logger.warning("renewal chunk at line %s hit a recorded period; redoing it per order", ids[0])
        chunk = RenewalSummary()
        with transaction.atomic():
            _renew_chunk_per_order(ids=ids, at=at, chunk=chunk)
    # Counted only once the chunk committed (a deadlock retry starts the chunk over).
    for name in ("scanned", "renewed", "failed", "ended", "skipped", "errors"):
        setattr(summary, name, getattr(summary, name) + getattr(chunk, name))
    summary.money = to_money(summary.money + chunk.money)


def _lock_chunk(*, ids: list[int]) -> tuple[dict[int, Account], list[SubscriptionLine]]:
    """Lock the accounts of the chunk's lines (SKIP LOCKED: another worker's accounts are left to
    it), then those lines, by primary key. Accounts first: the fixed lock order."""
    pairs = list(SubscriptionLine.objects.filter(pk__in=ids).values_list("pk", "subscription__account_id"))
    account_ids = sorted({account_id for _, account_id in pairs})
    accounts = accounts_lock(account_ids, skip_locked=True)
    # Lines are locked by primary key only: a range scan of the (mode, status, next_run_at)
    # index would lock index entries of other workers' lines too and deadlock with them.
    mine = sorted(pk for pk, account_id in pairs if account_id in accounts)
    lines = SubscriptionLine.objects.select_for_update(skip_locked=True).filter(pk__in=mine).order_by("pk")
    return accounts, list(lines)


def _renew_chunk_set_based(*, ids: list[int], at: datetime, chunk: RenewalSummary) -> None:
    """Renew a chunk with a fixed number of statements, whatever its size (B1): read the locked
    rows, price and fund every due period in Python (``renewals_plan``), then write the ledger
    entries, usage records, balances, lines, orders and events with one statement each
    (``renewals_write``). Orders that cannot pay go through ``renewal_unpaid`` one by one (the
    rare path)."""
    accounts, lines = _lock_chunk(ids=ids)
    chunk.scanned += len(ids)
    chunk.skipped += len(ids) - len(lines)
    plan = renewals_plan(lines=lines, accounts=accounts, at=at)
    chunk.skipped += plan.skipped
    chunk.errors += plan.errors
    if plan.due:
        chunk.money = to_money(chunk.money + renewals_write(due=plan.due, accounts=accounts, at=at))
        chunk.renewed += len(plan.due)
    for order, line_paid_until in plan.unpaid:
        renewal_unpaid(order=order, line_paid_until=line_paid_until, at=at, summary=chunk)


def _renew_chunk_per_order(*, ids: list[int], at: datetime, chunk: RenewalSummary) -> None:
    """The careful path: each order through ``renew_locked`` (replays found and skipped)."""
    accounts, lines = _lock_chunk(ids=ids)
    chunk.scanned += len(ids)
    chunk.skipped += len(ids) - len(lines)
    for line in lines:
        order = PurchaseOrder.objects.filter(subscription_id=line.subscription_id).first()
        if order is None or not line_still_due(line, at):
            chunk.skipped += 1  # renewed meanwhile by another worker
            continue
        try:
            with transaction.atomic():
                _renew_order(order_pk=order.pk, at=at, summary=chunk)
        except DomainError as exc:
            chunk.errors += 1
            logger.warning("renewal of %s failed: %s", order.order_id, exc.message)


def _renew_order(*, order_pk: int, at: datetime, summary: RenewalSummary) -> None:
    """Charge as many periods as are due for one order (account and line locked by the chunk)."""
    order = order_get_locked(order_pk)
    for _ in range(MAX_PERIODS_PER_RUN):
        if order.status not in RUNNING:
            return
        line = order_line(order)
        if line is None or line.paid_until is None:
            return
        if line.paid_until - renewal_lead(line.cycle) > at:
            return
        try:
            with transaction.atomic():
                result = renew_locked(order=order, actor=None, at=at, reason="renewed")
        except InsufficientFunds:
            renewal_unpaid(order=order, line_paid_until=line.paid_until, at=at, summary=summary)
            return
        order = result.order
        if result.charged:
            summary.renewed += 1
            summary.money = to_money(summary.money + result.money)


def renewal_unpaid(
    *, order: PurchaseOrder, line_paid_until: datetime, at: datetime, summary: RenewalSummary
) -> None:
    """The next period (a month, or an hour of an hourly order) could not be paid: ``renewalfailed``
    with a notification at most once per 24 h, and ``ended`` once ``RENEWAL_GRACE`` has passed
    since the end of the last paid period (docs/purchase-orders.md). Locks through ``order_transition``."""
    grace = settings.RENEWAL_GRACE
    # An hourly order's stored deadline is its first hour; the line knows the last paid one.
    deadline = max(order.deadline, line_paid_until) if order.deadline else line_paid_until
    if at >= deadline + grace:
        subscription_stop(order)
        closed = order_transition(
            order_pk=order.pk,
            to=PurchaseOrderStatus.ENDED,
            reason=PurchaseOrderEndReason.RENEWAL_FAILED,
            at=at,
            data={"deadline": deadline.isoformat()},
            fields={"end_time": at, "end_reason": PurchaseOrderEndReason.RENEWAL_FAILED},
        )
        notify.notify_order(event="order_closed", order=closed, data={"reason": "renewal_failed"})
        summary.ended += 1
        return
    last = order.last_renew_fail_notified_at
    should_notify = last is None or (at - last).total_seconds() >= NOTIFY_EVERY_SECONDS
    fields: dict[str, Any] = {"last_renew_fail_notified_at": at} if should_notify else {}
    if order.status != PurchaseOrderStatus.RENEWALFAILED or should_notify:
        order = order_transition(
            order_pk=order.pk,
            to=PurchaseOrderStatus.RENEWALFAILED,
            reason="renewal_unpaid",
            at=at,
            data={"deadline": deadline.isoformat(), "notified": should_notify},
            fields=fields,
        )
    if should_notify:
        notify.notify_order(event="order_renew_failed", order=order, data={"deadline": deadline.isoformat()})
    summary.failed += 1


def _dry_run(*, at: datetime, summary: RenewalSummary) -> None:
    """What a run at ``at`` would charge (the first due period of each line), writing nothing."""
    for line in due_lines(at=at).select_related("subscription").order_by("pk"):
        summary.scanned += 1
        order = (
            PurchaseOrder.objects.filter(subscription_id=line.subscription_id).select_related("plan").first()
        )
        if order is None or order.status not in RUNNING or line.paid_until is None:
            summary.skipped += 1
            continue
        period = next_period(line)
        version = price_version_in_force(order.plan, period.start)
        if version is None:
            summary.errors += 1
            continue
        gross = period_amount(unit_price=version.price, quantity=order.quantities)
        redemption = redemption_for(subject=("purchase_order", order.order_id))
        discount = redemption_discount(redemption, period_index=period.index, gross=gross)
        amount = gross - discount
        summary.renewed += 1
        summary.money = to_money(summary.money + amount)
        item = {"order_id": order.order_id, "period_start": period.start.isoformat(), "money": str(amount)}
        if discount:
            item["discount"] = str(discount)
        summary.would_charge.append(item)


# --- hourly purchase orders (charged hour by hour by the billing-jobs runner) ---------------------


def purchase_hourly_unpaid(*, order_ref: str, line_paid_until: datetime, at: datetime) -> str:
    """An hour of an hourly purchase order could not be paid: the same path as an unpaid renewal.
    The line stays due, so every run of the jobs runner tries again; the hours used meanwhile are
    charged one by one once the wallet can pay. Returns ``failed``, ``ended`` or ``none``."""
    order = PurchaseOrder.objects.select_related("plan", "account").filter(order_id=order_ref).first()
    if order is None or order.status not in RUNNING:
        return "none"
    summary = RenewalSummary()
    renewal_unpaid(order=order, line_paid_until=line_paid_until, at=at, summary=summary)
    return "ended" if summary.ended else "failed"


def purchase_hourly_paid(
    *, order_ref: str, period_end: datetime, at: datetime, discount: Decimal = ZERO
) -> None:
    """An hour was paid: a ``renewalfailed`` hourly order is ``consuming`` again (the event names
    the hour's ``discount`` when the order's promotion took something off it)."""
    order_pk = (
        PurchaseOrder.objects.filter(order_id=order_ref, status=PurchaseOrderStatus.RENEWALFAILED)
        .values_list("pk", flat=True)
        .first()
    )
    if order_pk is None:
        return
    order_transition(
        order_pk=order_pk,
        to=PurchaseOrderStatus.CONSUMING,
        reason="hourly_paid",
        at=at,
        data={"period_end": period_end.isoformat(), **({"discount": str(discount)} if discount else {})},
        fields={"last_renew_fail_notified_at": None},
    )
