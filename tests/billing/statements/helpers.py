"""Shared pieces of the statement tests: a clock to post entries at chosen times, money sums, and
an account with a month of postings of every kind (``may_account``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from billing.models import Account, LedgerEntry
from billing.services import (
    account_adjust,
    account_charge,
    account_credit,
    account_get_or_create,
    account_refund,
)
from billing.statements.periods import Period, parse_period

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, h: int = 12, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=SH).astimezone(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    """``timezone.now()`` (ledger timestamps, ``clock.now``) returns ``at`` inside the block."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


def ledger_balance_at(account: Account, end: datetime) -> Decimal:
    """The balance at ``end`` from the ledger itself: the sum of every amount before it."""
    amounts = LedgerEntry.objects.filter(account=account, created_at__lt=end).values_list("amount", flat=True)
    return sum(amounts, Decimal("0"))


MAY = parse_period("2026-05")
JUNE = parse_period("2026-06")


def period(label: str) -> Period:
    return parse_period(label)


def may_account(namespace: str = "acme", staff: Any = None) -> Any:
    """An account with April history, then May's postings of every kind (and one in June)."""
    with frozen(local(2026, 4, 20)):
        account = account_get_or_create(namespace=namespace)
        account_credit(account_id=account.pk, amount=Decimal("100"), idempotency_key=f"{namespace}:april")
        account_charge(
            account_id=account.pk, amount=Decimal("10"), idempotency_key=f"{namespace}:april-c",
            subject=("purchase_order", "PO-1"),
        )  # fmt: skip
    steps = [
        (local(2026, 5, 1, 0, 5), "credit", "50", ("recharge", "R1")),
        (local(2026, 5, 3), "charge", "30", ("purchase_order", "PO-1")),
        (local(2026, 5, 9), "charge", "12.5", ("purchase_order", "PO-2")),
        (local(2026, 5, 10), "charge", "30", ("purchase_order", "PO-1")),
        (local(2026, 5, 12), "refund", "4.25", ("purchase_order", "PO-2")),
        (local(2026, 5, 20), "adjust", "-1.75", None),
        (local(2026, 5, 31, 23, 59), "charge", "0.5", ("vehicle_order", "V-9")),
        (local(2026, 6, 1, 0, 1), "charge", "7", ("purchase_order", "PO-1")),  # June: not on May's statement
    ]
    for i, (at, op, amount, subject) in enumerate(steps):
        with frozen(at):
            key = f"{namespace}:{i}"
            if op == "credit":
                account_credit(
                    account_id=account.pk, amount=Decimal(amount), idempotency_key=key, subject=subject
                )
            elif op == "charge":
                account_charge(
                    account_id=account.pk, amount=Decimal(amount), idempotency_key=key, subject=subject
                )
            elif op == "refund":
                account_refund(
                    account_id=account.pk, amount=Decimal(amount), idempotency_key=key, subject=subject
                )
            else:
                account_adjust(
                    account_id=account.pk, amount=Decimal(amount), reason="goodwill fix", actor=staff,
                    idempotency_key=key,
                )  # fmt: skip
    account.refresh_from_db()
    return account
