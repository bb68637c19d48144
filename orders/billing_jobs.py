"""Billing jobs: one periodic runner instead of one cron entry per job (DOMAIN.md 6).

A "job" is a running ``hourly`` or ``postpaid`` ``SubscriptionLine`` of ANY subscription kind whose
``next_run_at`` has come; after them, the late meter events of billed periods are billed as
corrections (``orders.engine.corrections.late_events_bill``). The runner takes due lines in chunks
with ``SELECT ... FOR UPDATE SKIP LOCKED`` (each chunk its own transaction), so several workers
share the work without waiting on each other. Lock order stays account -> line: the runner locks the
account with SKIP LOCKED as well and leaves a line whose account is busy for the next run, so it
never waits while holding a line lock (no deadlock with an API call that holds the account). Every
period is billed at most once anyway (usage record unique per line and period, ledger key per line
and period).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import OperationalError, transaction
from django.utils import timezone

from billing.locks import account_try_lock
from config.db import is_deadlock
from config.exceptions import DomainError, InsufficientFunds
from config.money import to_money
from orders.engine.billing import (
    Period,
    line_bill_metered_period,
    line_charge_period,
    next_period,
    period_amount,
)
from orders.engine.corrections import DISCOUNT_E4, E4, discount_e4, late_events_bill
from orders.engine.models import (
    LineStatus,
    Subscription,
    SubscriptionKind,
    SubscriptionLine,
    SubscriptionStatus,
)
from orders.engine.promotions import chunk_redemptions, line_discount, order_subject_of
from orders.package.lifecycle import subscription_suspend
from orders.purchase.models import PurchaseOrder
from orders.purchase.renewal import purchase_hourly_paid, purchase_hourly_unpaid
from plans.models import BillingMode
from plans.selectors import price_version_in_force
from usage.models import UsageKind, UsageStatus

log = logging.getLogger(__name__)

MAX_DEADLOCK_RETRIES = 10
MAX_CATCH_UP = 48  # periods of one line billed in one run (a runner that was down catches up)
ENDED = (SubscriptionStatus.STOPPED, SubscriptionStatus.ENDED, SubscriptionStatus.CANCELED)


def billing_jobs_run(*, at: datetime | None = None, chunk_size: int = 200) -> dict[str, Any]:
    """Run every due billing job once; returns counts, and ``discount`` (a money string) when the
    orders' promotions took something off what was billed. Safe to run twice or on two workers.

    A chunk that MariaDB picks as a deadlock victim is rolled back whole and simply taken again
    (its lines are still due), a bounded number of times.
    """
    at = at or timezone.now()
    summary: Counter[str] = Counter()
    passed: set[int] = set()  # lines left for the next run (paused, account busy, failed)
    deadlocks = 0
    while True:
        chunk_summary: Counter[str] = Counter()
        chunk_passed: set[int] = set()
        try:
            more = _bill_lines_chunk(
                at=at, chunk_size=chunk_size, passed=passed, summary=chunk_summary, chunk_passed=chunk_passed
            )
        except OperationalError as exc:
            if not is_deadlock(exc) or deadlocks >= MAX_DEADLOCK_RETRIES:
                raise
            deadlocks += 1
            summary["deadlock_retries"] += 1
            log.warning("billing-job chunk was a deadlock victim, retry %d", deadlocks)
            continue
        summary.update(chunk_summary)
        passed |= chunk_passed
        if not more:
            break
    # Late meter events of periods billed before (this run's periods included): correction records
    summary.update(late_events_bill(at=at, chunk_size=chunk_size))
    result: dict[str, Any] = dict(summary)
    discounted = result.pop(DISCOUNT_E4, 0)
    if discounted:
        result["discount"] = str(to_money(Decimal(discounted) / E4))
    return result


def _bill_lines_chunk(
    *, at: datetime, chunk_size: int, passed: set[int], summary: Counter[str], chunk_passed: set[int]
) -> bool:
    """Bill one chunk of due hourly/postpaid lines in one transaction (False when none is due).
    Lines that cannot be billed now (paused, account busy, failed, still due) go to ``chunk_passed``."""
    with transaction.atomic():
        rows = _due_lines(at=at, chunk_size=chunk_size, passed=passed)
        if not rows:
            return False
        subs = _subscriptions_of(rows)
        locked_accounts: set[int] = set()
        for line_id, mode, sub_id in rows:
            summary["picked"] += 1
            if not _bill_line(
                line_id, mode, subs[sub_id], at=at, summary=summary, locked_accounts=locked_accounts
            ):
                chunk_passed.add(line_id)
    return True


def _due_lines(*, at: datetime, chunk_size: int, passed: set[int]) -> list[tuple[int, str, int]]:
    """``(line, billing mode, subscription)`` of the running hourly/postpaid lines due at ``at``,
    locked, skipping lines another run holds and the ones this run already passed."""
    return list(
        SubscriptionLine.objects.select_for_update(skip_locked=True)
        .filter(
            billing_mode__in=[BillingMode.HOURLY, BillingMode.POSTPAID],
            status=LineStatus.RUNNING,
            next_run_at__lte=at,
        )
        .exclude(pk__in=passed)
        .order_by("next_run_at", "id")
        .values_list("pk", "billing_mode", "subscription_id")[:chunk_size]
    )


def _subscriptions_of(rows: list[tuple[int, str, int]]) -> dict[int, Any]:
    """The lines' subscriptions by primary key (status, account, kind, order, region)."""
    subs = {
        s["pk"]: s
        for s in Subscription.objects.filter(pk__in={r[2] for r in rows}).values(
            "pk", "status", "account_id", "kind", "order_ref"
        )
    }
    # Records keep the order's region, as the ones written at create/renew do (issue 15).
    regions = dict(
        PurchaseOrder.objects.filter(
            order_id__in=[s["order_ref"] for s in subs.values() if s["kind"] == SubscriptionKind.PURCHASE]
        ).values_list("order_id", "region")
    )
    # The orders' promotions, for the whole chunk in one query (orders.engine.promotions).
    redemptions = chunk_redemptions(_subject(sub) for sub in subs.values())
    for sub in subs.values():
        sub["region"] = regions.get(sub["order_ref"], "") if sub["kind"] == SubscriptionKind.PURCHASE else ""
        sub["redemption"] = redemptions.get(_subject(sub))
    return subs


def _bill_line(
    line_id: int,
    mode: str,
    sub: dict[str, Any],
    *,
    at: datetime,
    summary: Counter[str],
    locked_accounts: set[int],
) -> bool:
    """Bill one due line (its account locked once per chunk, without waiting). False when the line
    is passed for this run: its subscription is paused, its account busy, its billing failed, or it
    is still due after ``MAX_CATCH_UP`` periods. A line of an ended subscription is stopped."""
    if sub["status"] in ENDED:
        SubscriptionLine.objects.filter(pk=line_id).update(
            status=LineStatus.STOPPED, next_run_at=None, updated_at=at
        )
        summary["ended"] += 1
        return True
    if sub["status"] != SubscriptionStatus.BILLING:
        summary["skipped_paused"] += 1
        return False
    if sub["account_id"] not in locked_accounts:
        if not account_try_lock(sub["account_id"]):
            summary["skipped_busy"] += 1
            return False
        locked_accounts.add(sub["account_id"])
    try:
        with transaction.atomic():
            if mode == BillingMode.HOURLY:
                _run_hourly(line_id=line_id, sub=sub, at=at, summary=summary)
            else:
                _run_postpaid(line_id=line_id, sub=sub, at=at, summary=summary)
    except DomainError as exc:
        log.warning("billing job for line %s failed: %s", line_id, exc)
        summary["failed"] += 1
        return False
    # Still due after MAX_CATCH_UP periods (or a clock that did not move): the next run
    # continues, so one run is bounded and can never loop on one line.
    return not SubscriptionLine.objects.filter(
        pk=line_id, status=LineStatus.RUNNING, next_run_at__lte=at
    ).exists()


def _subject(sub: Mapping[str, Any]) -> tuple[str, str]:
    return order_subject_of(kind=sub["kind"], order_ref=sub["order_ref"])


def _run_hourly(*, line_id: int, sub: Mapping[str, Any], at: datetime, summary: Counter[str]) -> None:
    """Charge the next hour ahead until the paid time covers ``at``; a failed charge suspends."""
    for _ in range(MAX_CATCH_UP):
        line = SubscriptionLine.objects.select_related("plan__product").get(pk=line_id)
        if line.next_run_at is None or line.next_run_at > at:
            return
        unit_price, version_id = line.price, None
        if line.price_rule_id is None:
            # a plan-priced line (purchase order): the version in force when the hour starts
            version = price_version_in_force(line.plan, line.next_run_at)
            if version is not None:
                unit_price, version_id = version.price, version.pk
        gross = period_amount(unit_price=unit_price, quantity=line.quantity)

        def discount(period: Period, line: SubscriptionLine = line, gross: Decimal = gross) -> Decimal:
            return line_discount(sub["redemption"], line=line, period_index=period.index, gross=gross)

        try:
            charge = line_charge_period(
                line_id=line_id,
                unit_price=unit_price,
                quantity=line.quantity,
                kind=UsageKind.HOURLY,
                price_rule_id=line.price_rule_id,
                price_version_id=version_id,
                price_read=unit_price if version_id is not None else None,  # else the line's price
                region=sub["region"],
                subject=_subject(sub),
                at=at,
                discount=discount,
            )
        except InsufficientFunds:
            if sub["kind"] == SubscriptionKind.PURCHASE:
                # A purchase order has no suspended state: renewalfailed, then ended after the grace
                # period (DOMAIN.md 5); the line stays due and is tried again every run.
                outcome = purchase_hourly_unpaid(
                    order_ref=sub["order_ref"], line_paid_until=line.paid_until or at, at=at
                )
                summary[f"hourly_unpaid_{outcome}"] += 1
                return
            subscription_suspend(subscription_id=sub["pk"], reason="hourly_charge_failed", at=at)
            summary["suspended"] += 1
            return
        SubscriptionLine.objects.filter(pk=line_id).update(next_run_at=charge.period.end)
        summary["hourly_charged" if charge.charged else "hourly_replayed"] += 1
        if charge.charged:
            summary[DISCOUNT_E4] += discount_e4(charge.record.discount)
        if sub["kind"] == SubscriptionKind.PURCHASE and charge.charged:
            purchase_hourly_paid(
                order_ref=sub["order_ref"],
                period_end=charge.period.end,
                at=at,
                discount=charge.record.discount,
            )


def _run_postpaid(*, line_id: int, sub: Mapping[str, Any], at: datetime, summary: Counter[str]) -> None:
    """Bill every ended period (metered quantity x unit price); unpaid ones become arrears."""
    for _ in range(MAX_CATCH_UP):
        billed = line_bill_metered_period(
            line_id=line_id,
            at=at,
            subject=_subject(sub),
            region=sub["region"],
            redemption=sub["redemption"],
        )
        if billed is None:
            # the period has not ended: put the job's clock on its end
            line = SubscriptionLine.objects.select_related("subscription").get(pk=line_id)
            SubscriptionLine.objects.filter(pk=line_id).update(next_run_at=next_period(line).end)
            return
        summary["postpaid_billed"] += 1
        summary[DISCOUNT_E4] += discount_e4(billed.record.discount)
        if billed.record.status == UsageStatus.ARREARS:
            summary["arrears"] += 1
