"""Shared pieces of the statement tests: a clock to post entries at chosen times, and money sums."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from unittest import mock
from zoneinfo import ZoneInfo

from billing.models import Account, LedgerEntry
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
