"""Ledger assertions shared by the vehicle-order tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing.models import Account, LedgerEntry
from config.money_sql import money_sum


def balance(account_id: int) -> Decimal:
    return Account.objects.get(pk=account_id).balance


def assert_balance_matches_ledger(account_id: int) -> None:
    total = money_sum(LedgerEntry.objects.filter(account_id=account_id))
    assert balance(account_id) == total


def ledger(account_id: int, **filters: Any) -> list[LedgerEntry]:
    return list(LedgerEntry.objects.filter(account_id=account_id, **filters).order_by("id"))
