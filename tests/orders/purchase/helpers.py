"""Helpers for purchase-order tests: catalog, funding, ledger checks, a fixed clock."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from billing.models import Account, LedgerEntry
from billing.services import account_credit, account_get_or_create
from config.money_sql import money_sum
from plans.models import BillingMode, Cycle, Plan, PriceVersion

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
_keys = itertools.count()


def local(y: int, m: int, d: int, h: int = 0) -> datetime:
    return datetime(y, m, d, h, tzinfo=SH).astimezone(UTC)


def make_plan(
    plan_id: str = "vol-50g",
    price: str = "30",
    *,
    plan_type: str = "volume",
    region: str = "cn-north-1",
    mode: str = BillingMode.PREPAID,
    cycle: str = Cycle.MONTH,
    since: datetime = datetime(2025, 1, 1, tzinfo=UTC),
    status: str = "active",
) -> Plan:
    plan, _ = Plan.objects.get_or_create(
        plan_id=plan_id,
        defaults={
            "name": plan_id,
            "plan_type": plan_type,
            "region": region,
            "billing_mode": mode,
            "cycle": cycle,
            "status": status,
        },
    )
    PriceVersion.objects.get_or_create(plan=plan, effective_from=since, defaults={"price": Decimal(price)})
    return plan


def add_price(plan: Plan, price: str, since: datetime) -> PriceVersion:
    return PriceVersion.objects.create(plan=plan, price=Decimal(price), effective_from=since)


def fund(account: Account, amount: str) -> None:
    account_credit(account_id=account.pk, amount=Decimal(amount), idempotency_key=f"test-fund-{next(_keys)}")


def account_of(user: Any, amount: str = "0") -> Account:
    account = account_get_or_create(namespace=user.get_username(), member=user)
    if Decimal(amount) > 0:
        fund(account, amount)
    account.refresh_from_db()
    return account


def balance(account: Account) -> Decimal:
    account.refresh_from_db()
    return account.balance


def assert_ledger(account: Account) -> None:
    """The invariant of every test: balance == sum of the ledger."""
    account.refresh_from_db()
    total = money_sum(LedgerEntry.objects.filter(account=account))
    assert account.balance == total, (account.balance, total)
