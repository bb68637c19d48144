"""Writes of the usage app: settling arrears (after a credit, the oldest arrears first).

An ``arrears`` record is a billed period (usually postpaid) the balance could not pay when it was
billed. After every credit the billing app enqueues ``usage.settle_arrears`` by name; each record is
charged on its own (per-record idempotency key, so a rerun or a concurrent run charges it once),
oldest first, stopping at the first one the balance cannot cover, so older debts are always paid
first. ``arrears_sweep`` (beat, every few minutes) settles every account that could pay its oldest
debt, so a lost or failed message is repaired within minutes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from billing.locks import account_lock
from billing.models import Account
from billing.services import account_charge
from config.exceptions import InsufficientFunds
from usage.models import UsageRecord, UsageStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ArrearsSettlement:
    settled: int
    amount: Decimal
    remaining: int


def arrears_key(record_id: int) -> str:
    return f"arrears:{record_id}"


def arrears_settle(*, account_id: int, at: datetime | None = None) -> ArrearsSettlement:
    """Charge the account's arrears records oldest first; stop at the first that cannot be paid.

    Locks the account, then the record (the fixed order), one record per transaction."""
    at = at or timezone.now()
    settled = 0
    amount = Decimal(0)
    ids = list(
        UsageRecord.objects.filter(account_id=account_id, status=UsageStatus.ARREARS)
        .order_by("period_start", "id")
        .values_list("pk", flat=True)
    )
    for record_id in ids:
        try:
            with transaction.atomic():
                account_lock(account_id)
                record = UsageRecord.objects.select_for_update().get(pk=record_id)
                if record.status != UsageStatus.ARREARS:
                    continue
                posting = account_charge(
                    account_id=account_id,
                    amount=record.amount,
                    idempotency_key=arrears_key(record.pk),
                    subject=("usage_record", record.pk),
                    memo=f"arrears of {record.order_ref} {record.period_start:%Y-%m-%d %H:%M}",
                )
                record.status = UsageStatus.PAID
                record.ledger_entry = posting.entry
                record.paid_at = at
                record.save(update_fields=["status", "ledger_entry", "paid_at"])
        except InsufficientFunds:
            break
        settled += 1
        amount += record.amount
    remaining = UsageRecord.objects.filter(account_id=account_id, status=UsageStatus.ARREARS).count()
    return ArrearsSettlement(settled=settled, amount=amount, remaining=remaining)


@dataclass(frozen=True)
class ArrearsSweep:
    accounts: int
    settled: int
    amount: Decimal
    remaining: int


def arrears_payable_accounts() -> list[int]:
    """Accounts whose balance covers their oldest arrears record (what a settlement would pay
    first): one statement, the oldest record found per account through the (account, status)
    index."""
    oldest = (
        UsageRecord.objects.filter(account_id=OuterRef("pk"), status=UsageStatus.ARREARS)
        .order_by("period_start", "id")
        .values("amount")[:1]
    )
    return list(
        Account.objects.annotate(oldest=Subquery(oldest))
        .filter(oldest__isnull=False, balance__gt=0, balance__gte=F("oldest"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def arrears_sweep(*, at: datetime | None = None) -> ArrearsSweep:
    """Settle the arrears of every account that can pay at least its oldest debt (beat)."""
    accounts = settled = remaining = 0
    amount = Decimal(0)
    for account_id in arrears_payable_accounts():
        result = arrears_settle(account_id=account_id, at=at)
        accounts += 1
        settled += result.settled
        amount += result.amount
        remaining += result.remaining
    if settled:
        logger.info("arrears sweep settled %d record(s) of %d account(s), %s", settled, accounts, amount)
    return ArrearsSweep(accounts=accounts, settled=settled, amount=amount, remaining=remaining)
