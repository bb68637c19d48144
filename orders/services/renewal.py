"""The renewal engine for prepaid purchase orders (DOMAIN.md 5), run by beat every 5 minutes and by
``manage.py run_billing``.

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
from django.db import transaction

from billing.models import Account
from config.db import retry_on_deadlock
from config.exceptions import DomainError, InsufficientFunds
from config.money import ZERO, to_money
from orders.models.engine import LineStatus, SubscriptionKind, SubscriptionLine
from orders.models.purchase import PurchaseOrder, PurchaseOrderEndReason, PurchaseOrderStatus
from orders.services import notify
from orders.services.engine import next_period
from orders.services.purchase import (
    RUNNING,
    _stop_subscription,
    order_line,
    order_transition,
    renew_locked,
    renewal_lead,
)
from plans.models import BillingMode
from plans.selectors import price_version_in_force

logger = logging.getLogger(__name__)

S = PurchaseOrderStatus
MAX_PERIODS_PER_RUN = 24  # a line far behind catches up over a few runs, never unbounded
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
        _run_chunk(ids=ids, at=at, summary=summary)
        if progress:
            progress(len(ids))
    logger.info("renewal run %s", summary.as_dict())
    return summary


@retry_on_deadlock
def _run_chunk(*, ids: list[int], at: datetime, summary: RenewalSummary) -> None:
    chunk = RenewalSummary()
    with transaction.atomic():
        pairs = list(
            SubscriptionLine.objects.filter(pk__in=ids).values_list("pk", "subscription__account_id")
        )
        account_ids = sorted({account_id for _, account_id in pairs})
        locked = set(
            Account.objects.select_for_update(skip_locked=True)
            .filter(pk__in=account_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        # Lines are locked by primary key only: a range scan of the (mode, status, next_run_at)
        # index would lock index entries of other workers' lines too and deadlock with them.
        mine = sorted(pk for pk, account_id in pairs if account_id in locked)
        lines = list(
            SubscriptionLine.objects.select_for_update(skip_locked=True)
            .filter(pk__in=mine)
            .order_by("pk")
            .values_list("pk", "subscription_id", "status", "next_run_at")
        )
        chunk.scanned += len(ids)
        chunk.skipped += len(ids) - len(lines)
        for _line_id, subscription_id, status, next_run_at in lines:
            order = PurchaseOrder.objects.filter(subscription_id=subscription_id).first()
            if order is None or status != LineStatus.RUNNING or next_run_at is None or next_run_at > at:
                chunk.skipped += 1  # renewed meanwhile by another worker
                continue
            try:
                with transaction.atomic():
                    _renew_order(order_pk=order.pk, at=at, summary=chunk)
            except DomainError as exc:
                chunk.errors += 1
                logger.warning("renewal of %s failed: %s", order.order_id, exc.message)
    # Counted only once the chunk committed (a deadlock retry starts the chunk over).
    for name in ("scanned", "renewed", "failed", "ended", "skipped", "errors"):
        setattr(summary, name, getattr(summary, name) + getattr(chunk, name))
    summary.money = to_money(summary.money + chunk.money)


def _renew_order(*, order_pk: int, at: datetime, summary: RenewalSummary) -> None:
    """Charge as many periods as are due for one order (account and line locked by the chunk)."""
    order = PurchaseOrder.objects.select_for_update().select_related("plan", "account").get(pk=order_pk)
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
            _renewal_failed(order=order, line_paid_until=line.paid_until, at=at, summary=summary)
            return
        order = result.order
        if result.charged:
            summary.renewed += 1
            summary.money = to_money(summary.money + result.money)


def _renewal_failed(
    *, order: PurchaseOrder, line_paid_until: datetime, at: datetime, summary: RenewalSummary
) -> None:
    grace = settings.RENEWAL_GRACE
    deadline = order.deadline or line_paid_until
    if at >= deadline + grace:
        _stop_subscription(order)
        closed = order_transition(
            order_pk=order.pk,
            to=S.ENDED,
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
    if order.status != S.RENEWALFAILED or should_notify:
        order = order_transition(
            order_pk=order.pk,
            to=S.RENEWALFAILED,
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
        amount = to_money(version.price * order.quantities)
        summary.renewed += 1
        summary.money = to_money(summary.money + amount)
        summary.would_charge.append(
            {"order_id": order.order_id, "period_start": period.start.isoformat(), "money": str(amount)}
        )
