"""Writes of the usage app: settling arrears (DOMAIN.md 2 and 6).

An ``arrears`` record is a billed period (usually postpaid) the balance could not pay when it was
billed. After a recharge the billing app enqueues ``usage.settle_arrears``; each record is charged on
its own (per-record idempotency key, so a rerun or a concurrent run charges it once), oldest first,
stopping at the first one the balance cannot cover, so older debts are always paid first.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models import Account
from billing.services import account_charge
from config.exceptions import InsufficientFunds
from usage.models import UsageRecord, UsageStatus


@dataclass(frozen=True)
class ArrearsSettlement:
    settled: int
    amount: Decimal
    remaining: int


def arrears_key(record_id: int) -> str:
    return f"arrears:{record_id}"


def arrears_settle(*, account_id: int) -> ArrearsSettlement:
    """Charge the account's arrears records oldest first; stop at the first that cannot be paid."""
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
                Account.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True).get()
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
                record.paid_at = timezone.now()
                record.save(update_fields=["status", "ledger_entry", "paid_at"])
        except InsufficientFunds:
            break
        settled += 1
        amount += record.amount
    remaining = UsageRecord.objects.filter(account_id=account_id, status=UsageStatus.ARREARS).count()
    return ArrearsSettlement(settled=settled, amount=amount, remaining=remaining)
