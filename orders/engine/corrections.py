"""Corrections of billed metered periods: late meter events and voided ones (issue 20, part 3;
docs/package-orders.md, "Late and voided events").

A period's record ``R`` (kind ``usage``) and its corrections (kind ``correction``, ``corrects=R``,
same period, same unit price) always add up to the period's price of its net quantity:
``sum(amount) == period_amount(R.unit_price, sum(quantity))``. A correction moves the quantity by
``delta`` (late events: +, voided events: -) and its amount is the difference, so a period is never
billed twice and voiding everything refunds exactly what was paid (no rounding left over).

Each correction has a key of its own, ``c:<R>:<l|v><first event id>``: an event is billed once
(``MeterEvent.billed_record_id`` is set once) and voided once (``voided_at``), so the first event
of a batch names the batch; the unique (line, key) of usage records and the ledger key derived from
it make a replay a no-op. Money: a positive correction is charged like a metered period (the
balance short: ``arrears``), a negative one is refunded (a refund of a month with an issued
statement gets its credit note from billing/statements/credit_notes.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.locks import account_try_lock
from billing.services import account_refund
from config.db import retry_on_conflict
from config.exceptions import InsufficientFunds
from config.money import ZERO, to_money
from config.money_sql import money_sum
from orders.engine.billing import (
    ledger_key_for,
    period_amount,
    records_pay,
    usage_record_write,
)
from orders.engine.models import SubscriptionKind, SubscriptionLine
from orders.engine.promotions import (
    LOOKUP,
    RedemptionArg,
    line_discount,
    line_redemption,
    period_index_at,
)
from usage.models import MeterEvent, UsageKind, UsageRecord, UsageStatus

# A run's summary is a Counter of ints: the discount it billed is counted in ten-thousandths.
DISCOUNT_E4 = "discount_e4"
E4 = Decimal(10000)


def discount_e4(discount: Decimal) -> int:
    return int(to_money(discount) * E4)


def order_subject(line: SubscriptionLine) -> tuple[str, str]:
    """The subject of the order's charges (the credit-note lookup finds the statement by it)."""
    sub = line.subscription
    return ("package_order" if sub.kind == SubscriptionKind.PACKAGE else "purchase_order", sub.order_ref)


def correction_key(*, original_id: int, cause: str, first_event_id: int) -> str:
    return f"c:{original_id}:{cause}{first_event_id}"


def period_record_of(*, line_id: int, at: datetime) -> UsageRecord | None:
    """The billed metered period of the line that contains ``at``."""
    return (
        UsageRecord.objects.filter(
            line_id=line_id, kind=UsageKind.USAGE, period_start__lte=at, period_end__gt=at
        )
        .exclude(status=UsageStatus.CANCELED)
        .order_by("period_start", "pk")
        .first()
    )


def correction_write(
    *,
    line: SubscriptionLine,
    original: UsageRecord,
    delta: Decimal,
    key: str,
    at: datetime,
    redemption: RedemptionArg = LOOKUP,
) -> tuple[UsageRecord, bool]:
    """Write and settle the correction of ``original`` by ``delta`` (a quantity, signed).

    The period is priced as if every event had been on time: its net price (the order's promotion
    taken off while it covers the period, ``orders.engine.promotions``) at the new quantity, less
    what its records billed. A positive correction's ``discount`` is the growth of the period's
    discount; a negative one carries none and refunds the net difference, so voiding everything
    refunds exactly what was paid (docs/decisions.md "Promotions on postpaid and hourly lines").

    The caller holds the account and the line locks. Returns the record and whether it is new (a
    replayed key returns the first one and moves no money)."""
    group = UsageRecord.objects.filter(Q(pk=original.pk) | Q(corrects_id=original.pk))
    quantity, billed = money_sum(group, "quantity"), money_sum(group, "amount")
    found = line_redemption(line, redemption)
    index = period_index_at(anchor=line.subscription.anchor, cycle=line.cycle, start=original.period_start)
    before = period_amount(unit_price=original.unit_price, quantity=quantity)
    after = period_amount(unit_price=original.unit_price, quantity=quantity + delta)
    was = line_discount(found, line=line, period_index=index, gross=before)
    now = line_discount(found, line=line, period_index=index, gross=after)
    amount = after - now - billed
    discount = min(max(now - was, ZERO), after - before) if delta > 0 else ZERO
    record, created = usage_record_write(
        line=line,
        period_start=original.period_start,
        period_end=original.period_end,
        key=key,
        kind=UsageKind.CORRECTION,
        unit_price=original.unit_price,
        quantity=delta,
        amount=amount,
        price_version_id=original.price_version_id,
        price_rule_id=original.price_rule_id,
        region=original.region,
        corrects_id=original.pk,
        discount=discount,
    )
    if created:
        _settle(record, line=line, at=at)
        record.refresh_from_db()
    return record, created


def _settle(record: UsageRecord, *, line: SubscriptionLine, at: datetime) -> None:
    account_id = line.subscription.account_id
    idempotency_key = ledger_key_for(line.pk, record.period_key)
    subject = order_subject(line)
    if record.amount == 0:
        UsageRecord.objects.filter(pk=record.pk).update(status=UsageStatus.PAID, paid_at=at)
    elif record.amount > 0:
        try:
            records_pay(
                account_id=account_id,
                records=[record],
                idempotency_key=idempotency_key,
                subject=subject,
                memo=f"late usage of {record.order_ref} {record.period_start:%Y-%m-%d %H:%M}",
                at=at,
            )
        except InsufficientFunds:
            UsageRecord.objects.filter(pk=record.pk).update(status=UsageStatus.ARREARS)
    else:
        posting = account_refund(
            account_id=account_id,
            amount=-record.amount,
            idempotency_key=idempotency_key,
            subject=subject,
            memo=f"voided usage of {record.order_ref} {record.period_start:%Y-%m-%d %H:%M}",
        )
        UsageRecord.objects.filter(pk=record.pk).update(
            status=UsageStatus.PAID, ledger_entry=posting.entry, paid_at=at
        )


# --- late events (the billing job's pass) ------------------------------------------------------


def late_events_bill(*, at: datetime | None = None, chunk_size: int = 200) -> Counter[str]:
    """Bill the late meter events still unbilled, one transaction per line (account, then line,
    both SKIP LOCKED: a busy line is left for the next run). Safe on several workers."""
    at = at or timezone.now()
    summary: Counter[str] = Counter()
    passed: set[int] = set()
    while True:
        pending = (
            MeterEvent.objects.filter(billed_record_id__isnull=True, late=True, voided_at__isnull=True)
            .exclude(line_id__in=passed)
            .values_list("line_id", "account_id")
            .distinct()[:chunk_size]
        )
        rows = list(pending)
        if not rows:
            return summary
        for line_id, account_id in rows:
            passed.add(line_id)
            summary.update(_line_late_bill(line_id=line_id, account_id=account_id, at=at))


@retry_on_conflict
def _line_late_bill(*, line_id: int, account_id: int, at: datetime) -> Counter[str]:
    summary: Counter[str] = Counter()
    with transaction.atomic():
        if not account_try_lock(account_id):
            summary["late_skipped_busy"] += 1
            return summary
        line = (
            SubscriptionLine.objects.select_for_update(skip_locked=True)
            .select_related("subscription")
            .filter(pk=line_id)
            .first()
        )
        if line is None:
            summary["late_skipped_busy"] += 1
            return summary
        events = list(
            MeterEvent.objects.filter(
                line_id=line_id, billed_record_id__isnull=True, late=True, voided_at__isnull=True
            )
            .order_by("timestamp", "pk")
            .values_list("pk", "timestamp", "quantity")
        )
        redemption = line_redemption(line) if events else None
        for original, batch in _by_period(line_id, events).items():
            if original is None:
                summary["late_without_period"] += len(batch)
                continue
            ids = [pk for pk, _, _ in batch]
            record, created = correction_write(
                line=line,
                original=original,
                delta=to_money(sum((q for _, _, q in batch), Decimal(0))),
                key=correction_key(original_id=original.pk, cause="l", first_event_id=min(ids)),
                at=at,
                redemption=redemption,
            )
            MeterEvent.objects.filter(pk__in=ids, billed_record_id__isnull=True).update(
                billed_record_id=record.pk
            )
            summary["late_corrections" if created else "late_replayed"] += 1
            if created:
                summary[DISCOUNT_E4] += discount_e4(record.discount)
            if record.status == UsageStatus.ARREARS:
                summary["arrears"] += 1
    return summary


def _by_period(
    line_id: int, events: Iterable[tuple[int, datetime, Decimal]]
) -> dict[UsageRecord | None, list[tuple[int, datetime, Decimal]]]:
    """Late events by the record of the billed period they fall in (None: in no billed period)."""
    groups: dict[UsageRecord | None, list[tuple[int, datetime, Decimal]]] = {}
    known: list[UsageRecord] = []
    for event in events:
        ts = event[1]
        original = next((r for r in known if r.period_start <= ts < r.period_end), None)
        if original is None:
            original = period_record_of(line_id=line_id, at=ts)
            if original is not None:
                known.append(original)
        groups.setdefault(original, []).append(event)
    return groups
