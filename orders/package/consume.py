"""Consume orders of package orders: the charge (or refund) of a renewal or a configuration change,
and the consume order marked paid by its ledger entry."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.models import LedgerEntry
from config.money import to_money
from orders.engine.billing import (
    records_pay,
)
from orders.package.models import (
    ConsumeOrder,
    ConsumeOrderRecord,
    ConsumeOrderStatus,
    PackageOrder,
)
from usage.models import UsageRecord


def consume_records_pay(
    *,
    consume: ConsumeOrder,
    order: PackageOrder,
    records: list[UsageRecord],
    idempotency_key: str,
    memo: str,
    actor: Any,
    at: datetime,
) -> tuple[Decimal, LedgerEntry | None]:
    """Link ``records`` to the consume order and, when their sum is positive, charge it in one
    ledger entry. Returns the sum and the entry (None when nothing was charged: zero or a credit,
    which the caller settles)."""
    total = to_money(sum((r.amount for r in records), Decimal(0)))
    links = [ConsumeOrderRecord(consume_order=consume, record=r) for r in records]
    ConsumeOrderRecord.objects.bulk_create(links)
    if total <= 0:
        return total, None
    posting = records_pay(
        account_id=order.account_id,
        records=records,
        idempotency_key=idempotency_key,
        subject=("package_order", order.order_id),
        actor=actor if getattr(actor, "pk", None) else None,
        memo=memo,
        at=at,
    )
    return total, posting.entry


def consume_mark_paid(
    consume: ConsumeOrder, *, amount: Decimal, entry: LedgerEntry | None, at: datetime
) -> None:
    consume.amount = amount
    consume.status = ConsumeOrderStatus.PAID
    consume.paid_at = at
    consume.ledger_entry = entry
    consume.save(update_fields=["amount", "status", "paid_at", "ledger_entry"])
