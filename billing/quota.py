"""Free monthly quota of metered services (DOMAIN.md 2, seed 003).

``quota_deduct`` locks the account row first (the same lock every money path takes, so a deduction
serialises with charges and with itself for one account), then the month's quota row. Free calls
are used first; only the calls the quota does not cover are charged, through ``account_charge``
with a key derived from the request id. Quota, ledger entry and usage record commit together or not
at all: a short balance raises ``InsufficientFunds`` and leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction

from billing.errors import AccountNotFound, BillingInvalidInput, UnknownService
from billing.models import Account, MonthlyQuota, QuotaUsage
from billing.services import account_charge
from config import clock
from config.db import retry_on_deadlock
from config.exceptions import InsufficientFunds
from config.money import to_money
from plans.models import MeteredService

__all__ = [
    "QuotaCheck",
    "QuotaDeduction",
    "quota_check",
    "quota_deduct",
    "quota_open_month",
    "metered_service_get",
]

REASON_FREE = "free"
REASON_BALANCE = "balance"
REASON_INSUFFICIENT = "insufficient balance"
MAX_COUNT = 1_000_000_000


@dataclass(frozen=True)
class QuotaCheck:
    allowed: bool
    reason: str
    free_remaining: int
    amount: Decimal


@dataclass(frozen=True)
class QuotaDeduction:
    usage: QuotaUsage
    replayed: bool

    @property
    def free_count(self) -> int:
        return self.usage.free_count

    @property
    def paid_count(self) -> int:
        return self.usage.paid_count

    @property
    def amount(self) -> Decimal:
        return self.usage.amount

    @property
    def balance(self) -> Decimal:
        return self.usage.balance_after


def metered_service_get(*, service: str) -> MeteredService:
    svc = MeteredService.objects.filter(service=service, active=True).first() if service else None
    if svc is None:
        raise UnknownService(f"unknown metered service: {service}", errors={"service": ["unknown service"]})
    return svc


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0 or count > MAX_COUNT:
        raise BillingInvalidInput(
            "count must be a whole number > 0", errors={"count": [f"must be a whole number 1..{MAX_COUNT}"]}
        )


def quota_check(*, account: Account, service: str, count: int, at: datetime | None = None) -> QuotaCheck:
    """Read-only: would ``count`` calls be allowed now, and why. Moves and creates nothing."""
    _check_count(count)
    svc = metered_service_get(service=service)
    month = clock.month_of(at or clock.now())
    row = MonthlyQuota.objects.filter(account=account, service=svc, month=month).only("total", "used").first()
    remaining = row.remaining if row is not None else svc.monthly_free_quota
    free = min(count, remaining)
    amount = to_money((count - free) * svc.unit_price)
    if free == count:
        return QuotaCheck(True, REASON_FREE, remaining, amount)
    balance = Account.objects.filter(pk=account.pk).values_list("balance", flat=True).get()
    if amount <= balance:
        return QuotaCheck(True, REASON_BALANCE, remaining, amount)
    return QuotaCheck(False, REASON_INSUFFICIENT, remaining, amount)


def _locked_quota_row(*, account_id: int, svc: MeteredService, month: date) -> MonthlyQuota:
    """The month's row, locked; created on first use (insert-and-catch: the month-opening task may
    insert the same row concurrently, and it does not take the account lock)."""
    row = (
        MonthlyQuota.objects.select_for_update()
        .filter(account_id=account_id, service=svc, month=month)
        .first()
    )
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return MonthlyQuota.objects.create(
                account_id=account_id, service=svc, month=month, total=svc.monthly_free_quota
            )
    except IntegrityError:
        return MonthlyQuota.objects.select_for_update().get(account_id=account_id, service=svc, month=month)


@retry_on_deadlock
def quota_deduct(
    *, account_id: int, service: str, count: int, request_id: str, at: datetime | None = None
) -> QuotaDeduction:
    """Use ``count`` calls: free quota first, the balance for the rest; idempotent by ``request_id``."""
    _check_count(count)
    if not request_id or not isinstance(request_id, str) or len(request_id) > 128:
        raise BillingInvalidInput(
            "request_id is required", errors={"request_id": ["must be 1-128 characters"]}
        )
    svc = metered_service_get(service=service)
    month = clock.month_of(at or clock.now())
    with transaction.atomic():
        account = Account.objects.select_for_update().only("id", "balance").filter(pk=account_id).first()
        if account is None:
            raise AccountNotFound(f"account {account_id} not found")
        # Under the account lock a concurrent first request has either committed or not started.
        existing = QuotaUsage.objects.filter(account_id=account_id, request_id=request_id).first()
        if existing is not None:
            return QuotaDeduction(existing, replayed=True)
        quota = _locked_quota_row(account_id=account_id, svc=svc, month=month)
        free = min(count, quota.remaining)
        paid = count - free
        amount = to_money(paid * svc.unit_price)
        entry = None
        balance = account.balance
        if amount > 0:
            if amount > balance:
                raise InsufficientFunds(
                    f"insufficient balance: {balance} available, {amount} needed",
                    balance=str(balance),
                    required=str(amount),
                )
            posting = account_charge(
                account_id=account_id,
                amount=amount,
                idempotency_key=f"quota:{request_id}",
                subject=("quota_request", request_id),
                memo=f"{svc.service} x{paid}",
            )
            entry = posting.entry
            balance = posting.balance
        if free:
            MonthlyQuota.objects.filter(pk=quota.pk).update(used=quota.used + free)
        usage = QuotaUsage.objects.create(
            account_id=account_id,
            service=svc,
            quota=quota,
            request_id=request_id,
            count=count,
            free_count=free,
            paid_count=paid,
            unit_price=svc.unit_price,
            amount=amount,
            balance_after=balance,
            ledger_entry=entry,
        )
    return QuotaDeduction(usage, replayed=False)


def quota_open_month(*, month: date, chunk_size: int = 1000) -> int:
    """Create every account x active service row for ``month``; rows that exist are left alone.

    Safe to run twice (beat duplicates, manual re-runs): ``ignore_conflicts`` on the unique
    (account, service, month) constraint. Returns how many rows were inserted (best effort count).
    """
    month = date(month.year, month.month, 1)
    services = list(MeteredService.objects.filter(active=True))
    if not services:
        return 0
    created = 0
    last_id = 0
    while True:
        ids = list(
            Account.objects.filter(pk__gt=last_id).order_by("pk").values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            return created
        last_id = ids[-1]
        existing = set(
            MonthlyQuota.objects.filter(account_id__in=ids, month=month).values_list(
                "account_id", "service_id"
            )
        )
        rows = [
            MonthlyQuota(account_id=aid, service=svc, month=month, total=svc.monthly_free_quota)
            for aid in ids
            for svc in services
            if (aid, svc.pk) not in existing
        ]
        MonthlyQuota.objects.bulk_create(rows, ignore_conflicts=True)
        created += len(rows)
