"""The subscription engine: the one place that turns a period of a subscription line into a usage
record and a charge. Purchase orders and package orders both bill through it.

Invariants:
- a period of a line is billed at most once (``UsageRecord`` unique on ``(line_id, period_key)``);
- the charge and the record commit together (one transaction; account row locked first);
- a retried or concurrent call for the same period returns the first result and moves no money
  (the ledger idempotency key is derived from the line and the period).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.locks import account_lock
from billing.services import Posting, account_charge
from config.clock import add_cycles
from config.money import to_money
from config.money_sql import money_sum
from orders.engine.models import SubscriptionLine
from orders.engine.price_claims import prices_claim
from orders.engine.promotions import LOOKUP, RedemptionArg, line_discount, line_redemption
from usage.models import MeterEvent, UsageKind, UsageRecord, UsageStatus


@dataclass(frozen=True)
class Period:
    index: int  # 1 = the first period after the anchor
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return period_key(self.start)


def period_key(start: datetime) -> str:
    return "p:" + start.astimezone(UTC).strftime("%Y%m%dT%H%M%S")


def period_of(*, anchor: datetime, cycle: str, index: int) -> Period:
    """The ``index``-th period (1-based) of a subscription anchored at ``anchor``."""
    if index < 1:
        raise ValueError("period index starts at 1")
    start = anchor if index == 1 else add_cycles(anchor, cycle, index - 1)
    return Period(index=index, start=start, end=add_cycles(anchor, cycle, index))


def next_period(line: SubscriptionLine) -> Period:
    return period_of(anchor=line.subscription.anchor, cycle=line.cycle, index=line.periods_billed + 1)


def ledger_key_for(line_id: int, key: str) -> str:
    return f"line:{line_id}:{key}"


def period_amount(*, unit_price: Decimal, quantity: Decimal | int) -> Decimal:
    """THE price of one billed period: unit price x quantity, half-up to 4 places. Every charge
    and every preview of one (``drytry``) computes it here, so the two cannot differ."""
    return to_money(unit_price * Decimal(quantity))


def usage_record_write(
    *,
    line: SubscriptionLine,
    period_start: datetime,
    period_end: datetime,
    key: str,
    kind: str,
    unit_price: Decimal,
    quantity: Decimal = Decimal(1),
    amount: Decimal | None = None,
    status: str = UsageStatus.UNPAID,
    price_version_id: int | None = None,
    price_rule_id: int | None = None,
    region: str = "",
    corrects_id: int | None = None,
    discount: Decimal = Decimal(0),
    price_read: Decimal | None = None,
) -> tuple[UsageRecord, bool]:
    """Insert the record of one period of ``line`` (or return the one already there). The one
    writer of usage records (a ``correction`` names the record it corrects in ``corrects_id``); a
    promotion's ``discount`` is taken off the computed amount (the record keeps both).
    ``price_read`` is the price the caller read just now from the named version / rule and computed
    the charge from (compared with the row after the insert, ``orders.engine.price_claims``); None
    when the unit price was read earlier (a line's price, a corrected or refunded record's)."""
    sub = line.subscription
    if amount is None:
        amount = period_amount(unit_price=unit_price, quantity=quantity) - discount
    try:
        with transaction.atomic():
            record = UsageRecord.objects.create(
                account_id=sub.account_id,
                source=sub.kind,
                order_ref=sub.order_ref,
                line_id=line.pk,
                period_key=key,
                region=region,
                plan_id=line.plan_id,
                price_version_id=price_version_id,
                price_rule_id=price_rule_id,
                component_id=line.component_id,
                period_start=period_start,
                period_end=period_end,
                quantity=quantity,
                unit_price=unit_price,
                amount=to_money(amount),
                discount=to_money(discount),
                kind=kind,
                status=status,
                corrects_id=corrects_id,
            )
            prices_claim(
                versions=[(price_version_id, price_read)] if price_version_id else [],
                rules=[(price_rule_id, price_read)] if price_rule_id else [],
                at=record.created_at,
            )
            return record, True
    except IntegrityError:
        return UsageRecord.objects.get(line_id=line.pk, period_key=key), False


def records_pay(
    *,
    account_id: int,
    records: Sequence[UsageRecord],
    idempotency_key: str,
    subject: tuple[str, Any],
    actor: Any = None,
    memo: str = "",
    at: datetime | None = None,
) -> Posting:
    """Charge the sum of ``records`` in ONE ledger entry and mark them paid, atomically.

    Raises ``InsufficientFunds`` (nothing changes). Call inside the caller's transaction when
    order state must change with the payment.
    """
    at = at or timezone.now()
    total = to_money(sum((r.amount for r in records), Decimal(0)))
    with transaction.atomic():
        posting = account_charge(
            account_id=account_id,
            amount=total,
            idempotency_key=idempotency_key,
            subject=subject,
            actor=actor,
            memo=memo,
        )
        ids = [r.pk for r in records]
        UsageRecord.objects.filter(pk__in=ids).exclude(status=UsageStatus.PAID).update(
            status=UsageStatus.PAID, ledger_entry=posting.entry, paid_at=at
        )
    return posting


@dataclass(frozen=True)
class PeriodCharge:
    record: UsageRecord
    period: Period
    charged: bool  # False when this period had been paid before (a replay)


def line_charge_period(
    *,
    line_id: int,
    unit_price: Decimal,
    kind: str = UsageKind.RENEW,
    quantity: Decimal = Decimal(1),
    price_version_id: int | None = None,
    price_rule_id: int | None = None,
    region: str = "",
    subject: tuple[str, Any] | None = None,
    actor: Any = None,
    at: datetime | None = None,
    discount: Decimal | Callable[[Period], Decimal] = Decimal(0),
    price_read: Decimal | None = None,
) -> PeriodCharge:
    """Charge the next period of a line ahead (prepaid renewal, hourly hour) and advance its clock.
    ``price_read``: as ``usage_record_write``'s (the named price's value read just now, if it was).

    ``discount`` (a promotion's, ``plans.promotions.discount_for``), or the function giving it for
    the period found under the lock, is taken off the period's amount; the record keeps it.
    Locks the account, then the line. Safe to call twice or from two workers: the second call
    finds the period paid and changes nothing. Raises ``InsufficientFunds`` with nothing written.
    """
    at = at or timezone.now()
    with transaction.atomic():
        account_id = (
            SubscriptionLine.objects.filter(pk=line_id)
            .values_list("subscription__account_id", flat=True)
            .get()
        )
        account_lock(account_id)
        line = SubscriptionLine.objects.select_for_update().select_related("subscription").get(pk=line_id)
        period = next_period(line)
        record, _ = usage_record_write(
            line=line,
            period_start=period.start,
            period_end=period.end,
            key=period.key,
            kind=kind,
            unit_price=unit_price,
            quantity=quantity,
            price_version_id=price_version_id,
            price_rule_id=price_rule_id,
            region=region,
            discount=discount(period) if callable(discount) else discount,
            price_read=price_read,
        )
        if record.status == UsageStatus.PAID:
            # Paid before (a replay): the clock moves past it, so it is not found due again.
            line.periods_billed = period.index
            line.paid_until = period.end
            line.save(update_fields=["periods_billed", "paid_until", "updated_at"])
            return PeriodCharge(record=record, period=period, charged=False)
        records_pay(
            account_id=account_id,
            records=[record],
            idempotency_key=ledger_key_for(line.pk, period.key),
            subject=subject or ("usage_record", record.pk),
            actor=actor,
            at=at,
        )
        record.refresh_from_db()
        line.periods_billed = period.index
        line.paid_until = period.end
        line.save(update_fields=["periods_billed", "paid_until", "updated_at"])
        return PeriodCharge(record=record, period=period, charged=True)


# --- metered (postpaid) periods -----------------------------------------------------------------


def unbilled_events(*, line_id: int, start: datetime, end: datetime | None) -> QuerySet[MeterEvent]:
    """The line's meter events in ``[start, end)`` (``end=None``: everything from ``start``) that
    no record billed yet and that are not voided."""
    qs = MeterEvent.objects.filter(
        line_id=line_id, timestamp__gte=start, billed_record_id__isnull=True, voided_at__isnull=True
    )
    return qs if end is None else qs.filter(timestamp__lt=end)


def metered_quantity(*, line_id: int, start: datetime, end: datetime | None) -> Decimal:
    """Sum of the line's unbilled, not voided meter events in ``[start, end)``."""
    # exact on SQLite too (a plain Sum adds floats there); quantities have 4 places like money
    return money_sum(unbilled_events(line_id=line_id, start=start, end=end), "quantity")


def _pay_metered_record(
    record: UsageRecord,
    *,
    line: SubscriptionLine,
    period: Period,
    subject: tuple[str, Any] | None,
    at: datetime,
) -> bool:
    """Charge a new metered record (True), or mark it paid when it costs nothing, or leave it in
    ``arrears`` when the balance cannot cover it (False both)."""
    from config.exceptions import InsufficientFunds

    if record.amount <= 0:
        UsageRecord.objects.filter(pk=record.pk).update(status=UsageStatus.PAID, paid_at=at)
        return False
    try:
        records_pay(
            account_id=line.subscription.account_id,
            records=[record],
            idempotency_key=ledger_key_for(line.pk, period.key),
            subject=subject or ("usage_record", record.pk),
            at=at,
        )
    except InsufficientFunds:
        UsageRecord.objects.filter(pk=record.pk).update(status=UsageStatus.ARREARS)
        return False
    return True


def _advance_metered_line(line: SubscriptionLine, *, period: Period, end: datetime, closed: bool) -> None:
    """The period is billed: the line is paid until its end and runs again at the next one's end
    (never again once ``closed`` by a stop)."""
    line.periods_billed = period.index
    line.paid_until = end
    line.next_run_at = (
        None
        if closed
        else period_of(anchor=line.subscription.anchor, cycle=line.cycle, index=period.index + 1).end
    )
    line.save(update_fields=["periods_billed", "paid_until", "next_run_at", "updated_at"])


def line_bill_metered_period(
    *,
    line_id: int,
    at: datetime | None = None,
    final_end: datetime | None = None,
    subject: tuple[str, Any] | None = None,
    region: str = "",
    redemption: RedemptionArg = LOOKUP,
) -> PeriodCharge | None:
    """Bill the next (ended) postpaid period of a line: metered quantity x unit price, less the
    order's promotion while it covers the period (``redemption``: the order's, read here unless
    the caller read it for its whole chunk; ``orders.engine.promotions``).

    ``final_end`` closes the period early (a stop: the last, partial period, counting every event
    from its start). Returns None when the period has not ended yet. The record is written and the
    charge attempted in one transaction; a charge the balance cannot cover leaves the record in
    ``arrears`` (settled later by ``usage.services.arrears_settle``) and the clock still advances,
    so a period is billed exactly once. Locks the account, then the line.
    """
    at = at or timezone.now()
    with transaction.atomic():
        account_id = (
            SubscriptionLine.objects.filter(pk=line_id)
            .values_list("subscription__account_id", flat=True)
            .get()
        )
        account_lock(account_id)
        line = SubscriptionLine.objects.select_for_update().select_related("subscription").get(pk=line_id)
        period = next_period(line)
        end = period.end
        if final_end is not None:
            end = min(max(final_end, period.start), period.end)
        elif period.end > at:
            return None
        quantity = metered_quantity(line_id=line.pk, start=period.start, end=None if final_end else end)
        discount = line_discount(
            line_redemption(line, redemption),
            line=line,
            period_index=period.index,
            gross=period_amount(unit_price=line.price, quantity=quantity),
        )
        record, created = usage_record_write(
            line=line,
            period_start=period.start,
            period_end=end,
            key=period.key,
            kind=UsageKind.USAGE,
            unit_price=line.price,
            quantity=quantity,
            price_rule_id=line.price_rule_id,
            region=region,
            discount=discount,
        )
        charged = False
        if created:
            # The events summed are the record's: under the line lock no event of the line is being
            # ingested (ingest holds it shared) nor voided (void holds the account), so the same
            # filter marks exactly the rows summed. Later ones are late: a correction bills them.
            unbilled_events(line_id=line.pk, start=period.start, end=None if final_end else end).update(
                billed_record_id=record.pk
            )
            charged = _pay_metered_record(record, line=line, period=period, subject=subject, at=at)
            record.refresh_from_db()
        _advance_metered_line(line, period=period, end=end, closed=final_end is not None)
        return PeriodCharge(record=record, period=period, charged=charged)


def hour_index_at(*, anchor: datetime, at: datetime) -> int:
    """The 1-based index of the hourly period of ``anchor`` that contains ``at``."""
    if at <= anchor:
        return 1
    return int((at - anchor).total_seconds() // 3600) + 1
