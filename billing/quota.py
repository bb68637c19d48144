"""Free monthly quota of metered services (docs/billing.md "Quota months").

``quota_deduct`` locks the account row first (the same lock every money path takes, so a deduction
serialises with charges and with itself for one account), then the month's quota row. Free calls
are used first; only the calls the quota does not cover are charged, through
``account_charge_locked`` on the row already locked, with a key derived from the request id. Quota,
ledger entry and usage record commit together or not at all: a short balance raises
``InsufficientFunds`` and leaves nothing behind.

The hot path (``POST /internal/v1/billing/deduct-quota``, benchmark B2) is one transaction of four
statements for a paid call: one SELECT ... FOR UPDATE locks the account (by namespace) and then its
quota row of the month, UPDATE the balance, INSERT the ledger entry, INSERT the usage row (a free
call: UPDATE the quota row instead of the two ledger statements). There is no replay lookup up
front: a repeated ``request_id`` hits the unique ``(account, request_id)`` constraint of the usage
row (or ``(account, idempotency_key)`` of the ledger entry), the whole transaction rolls back and
only then is the first result read and answered (also when the repeat no longer fits the balance).
The metered service is read from a per-process cache, and the statements are plain parameterised
SQL (``billing.quota_rows``): the ORM's statement building cost more CPU than the database work.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_migrate, post_save

from billing import quota_cache
from billing.errors import AccountNotFound, BillingInvalidInput, UnknownService
from billing.models import Account, MonthlyQuota, QuotaUsage
from billing.quota_rows import create_quota_row, lock_account_and_quota, record_usage
from billing.services import account_charge_locked
from config import clock
from config.db import retry_on_conflict
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
    "metered_service_cache_clear",
    "active_service_cached",
    "unknown_service_error",
]

REASON_FREE = "free"
REASON_BALANCE = "balance"
REASON_INSUFFICIENT = "insufficient balance"
MAX_COUNT = 1_000_000_000
# How long a process may answer from its cached copy of a metered service row. A change saved in
# this process (admin, catalog import: ``save()``) clears the cache at once; other processes see it
# within this many seconds. ``QuerySet.update()`` sends no signal: only the TTL covers it.
SERVICE_CACHE_SECONDS = float(getattr(settings, "BILLING_SERVICE_CACHE_SECONDS", 10.0))
_now = time.monotonic  # replaced in tests to let the TTL pass


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


# --- the metered-service cache ------------------------------------------------------------------

_services: dict[str, tuple[float, MeteredService | None]] = {}
_services_generation = 0
_services_lock = threading.Lock()


def metered_service_cache_clear(**_: Any) -> None:
    """Forget every cached service row (a signal receiver too: any save/delete of a service)."""
    global _services_generation
    with _services_lock:
        _services_generation += 1
        _services.clear()


post_save.connect(metered_service_cache_clear, sender=MeteredService, dispatch_uid="billing.quota.svc.save")
post_delete.connect(metered_service_cache_clear, sender=MeteredService, dispatch_uid="billing.quota.svc.del")
post_migrate.connect(metered_service_cache_clear, dispatch_uid="billing.quota.svc.flush")  # flush, migrate


def _account_saved(*, created: bool, update_fields: Any = None, **_: Any) -> None:
    """A saved account may have a new namespace: check-quota's remembered ids are retired (a
    create needs nothing: an unknown namespace is never remembered)."""
    if not created and (update_fields is None or "namespace" in update_fields):
        quota_cache.accounts_renamed_on_commit()


post_save.connect(_account_saved, sender=Account, dispatch_uid="billing.quota.account.save")
post_delete.connect(
    quota_cache.accounts_renamed_on_commit, sender=Account, dispatch_uid="billing.quota.account.del"
)


def active_service_cached(service: str) -> MeteredService | None:
    """The active service named ``service`` or None; cached per process (unknown names too)."""
    if not service:
        return None
    now = _now()
    hit = _services.get(service)
    if hit is not None and hit[0] > now:
        return hit[1]
    generation = _services_generation
    svc = MeteredService.objects.filter(service=service, active=True).first()
    with _services_lock:
        if generation == _services_generation:  # no change was saved while we read
            _services[service] = (now + SERVICE_CACHE_SECONDS, svc)
    return svc


def unknown_service_error(service: str) -> UnknownService:
    return UnknownService(f"unknown metered service: {service}", errors={"service": ["unknown service"]})


def metered_service_get(*, service: str) -> MeteredService:
    """The active service ``service`` (from the per-process cache); ``UnknownService`` if none.
    The row is shared by the threads of the process: read it, never change it."""
    svc = active_service_cached(service)
    if svc is None:
        raise unknown_service_error(service)
    return svc


def _check_count(count: int) -> None:
    if isinstance(count, bool) or not isinstance(count, int) or count <= 0 or count > MAX_COUNT:
        raise BillingInvalidInput(
            "count must be a whole number > 0", errors={"count": [f"must be a whole number 1..{MAX_COUNT}"]}
        )


def quota_check(
    *,
    service: str,
    count: int,
    account: Account | None = None,
    namespace: str | None = None,
    at: datetime | None = None,
) -> QuotaCheck:
    """Read-only: would ``count`` calls be allowed now, and why. Moves and creates nothing.

    Answered for now (``at`` None) from ``billing.quota_cache`` when a recent check or no write
    since left its figures there; ``deduct-quota`` stays the authority (docs/billing.md "check-quota
    cache"). Error precedence as the API's: unknown namespace, invalid count, unknown service."""
    if (account is None) == (namespace is None):
        raise TypeError("quota_check needs exactly one of account and namespace")
    known_balance: Decimal | None = None
    remembered = None
    if account is not None:
        account_id = account.pk
    else:
        remembered = quota_cache.remembered_account(namespace or "")
        if remembered is None:  # unknown here: another process's read, or the database's
            shared_id, names = quota_cache.shared_account(namespace or "")
            if shared_id is None:  # read it first: an unknown namespace is the first error
                account_id, known_balance = _account_by_namespace(namespace or "", names=names)
            else:
                account_id, remembered = shared_id, (shared_id, names)
        else:
            account_id = remembered[0]
    _check_count(count)
    svc = metered_service_get(service=service)
    month = clock.month_of(at or clock.now())
    read = quota_cache.snapshot_read(account_id, svc.pk, month) if at is None else None
    snapshot = read.snapshot if read is not None else None
    if remembered is not None and (read is None or remembered[1] is None or remembered[1] != read.names):
        snapshot = None  # the namespace may have moved since its id was read: read it again
    if snapshot is None:
        keep = read is not None
        if namespace is not None and known_balance is None:  # the remembered id may be gone
            names = read.names if read is not None and read.names is not None else quota_cache.names_token()
            fresh_id, known_balance = _account_by_namespace(namespace, names=names)
            # the write count read belongs to the remembered account: store nothing for another
            keep = keep and fresh_id == account_id
            account_id = fresh_id
        snapshot = _check_snapshot(account_id, svc, month, known_balance)
        if read is not None and keep:
            quota_cache.snapshot_set(account_id, svc.pk, month, snapshot, seen=read.writes)
    balance, remaining = snapshot
    free = min(count, remaining)
    amount = to_money((count - free) * svc.unit_price)
    if free == count:
        return QuotaCheck(True, REASON_FREE, remaining, amount)
    if amount <= balance:
        return QuotaCheck(True, REASON_BALANCE, remaining, amount)
    return QuotaCheck(False, REASON_INSUFFICIENT, remaining, amount)


def _unknown_namespace(namespace: str | None) -> AccountNotFound:
    return AccountNotFound(f"namespace {namespace} not found", errors={"namespace": ["unknown namespace"]})


def _account_by_namespace(namespace: str, *, names: str | None) -> tuple[int, Decimal]:
    found = quota_cache.account_by_namespace(namespace, names=names)
    if found is None:
        raise _unknown_namespace(namespace)
    return found


def _check_snapshot(
    account_id: int, svc: MeteredService, month: date, balance: Decimal | None
) -> quota_cache.QuotaSnapshot:
    """The account's balance (unless just read with its id) and the free calls of ``svc`` left in
    ``month``, read now."""
    if balance is None:
        balance = Account.objects.filter(pk=account_id).values_list("balance", flat=True).first()
        if balance is None:
            raise AccountNotFound(f"account {account_id} not found")
    row = MonthlyQuota.objects.filter(account_id=account_id, service=svc, month=month).first()
    return balance, row.remaining if row is not None else svc.monthly_free_quota


def _first_usage(account_id: int | None, request_id: str) -> QuotaUsage | None:
    if account_id is None:
        return None
    return QuotaUsage.objects.filter(account_id=account_id, request_id=request_id).first()


@retry_on_conflict
def quota_deduct(
    *,
    service: str,
    count: int,
    request_id: str,
    account_id: int | None = None,
    namespace: str | None = None,
    at: datetime | None = None,
) -> QuotaDeduction:
    """Use ``count`` calls of the account ``account_id`` (or the account of ``namespace``): free
    quota first, the balance for the rest; idempotent by ``request_id`` (a repeat answers the first
    result, ``replayed=True``, and moves nothing).

    Error precedence: invalid count/request_id, then (by ``account_id``) unknown service before an
    unknown account, or (by ``namespace``, the API) unknown namespace before unknown service."""
    if (account_id is None) == (namespace is None):
        raise TypeError("quota_deduct needs exactly one of account_id and namespace")
    _check_count(count)
    if not request_id or not isinstance(request_id, str) or len(request_id) > 128:
        raise BillingInvalidInput(
            "request_id is required", errors={"request_id": ["must be 1-128 characters"]}
        )
    svc = active_service_cached(service)
    if svc is None and account_id is not None:
        raise unknown_service_error(service)
    month = clock.month_of(at or clock.now())
    locked_id: int | None = None
    try:
        with transaction.atomic():
            account, quota_id, total, used = lock_account_and_quota(
                account_id=account_id, namespace=namespace, svc=svc, month=month
            )
            locked_id = account.pk
            if svc is None:
                raise unknown_service_error(service)
            usage = _deduct_locked(
                account=account,
                svc=svc,
                month=month,
                quota=(quota_id, total, used),
                count=count,
                request_id=request_id,
            )
    except (IntegrityError, InsufficientFunds):
        # Everything of this attempt is rolled back. A request id answered before (committed
        # before we got the account lock) collides with its usage row or ledger entry, or no
        # longer fits the balance: answer the first result. Anything else is a real error.
        first = _first_usage(locked_id, request_id)
        if first is None:
            raise
        return QuotaDeduction(first, replayed=True)
    return QuotaDeduction(usage, replayed=False)


def _deduct_locked(
    *,
    account: Account,
    svc: MeteredService,
    month: date,
    quota: tuple[int | None, int, int],
    count: int,
    request_id: str,
) -> QuotaUsage:
    """On the locked account row: create the month's quota row on first use, use the free calls,
    charge the rest (``InsufficientFunds``, nothing written, if short) and record the usage."""
    quota_id, total, used = quota
    if quota_id is None:
        row = create_quota_row(account_id=account.pk, svc=svc, month=month)
        quota_id, total, used = row.pk, row.total, row.used
    free = min(count, total - used)
    paid = count - free
    amount = to_money(paid * svc.unit_price)
    entry = None
    if amount > 0:  # raises InsufficientFunds (nothing written) if the balance is short
        entry = account_charge_locked(
            account=account,
            amount=amount,
            idempotency_key=f"quota:{request_id}",
            subject=("quota_request", request_id),
            memo=f"{svc.service} x{paid}",
            pays_quota_usage=True,
        ).entry
    return record_usage(
        account=account,
        svc=svc,
        quota_id=quota_id,
        used=used,
        request_id=request_id,
        count=count,
        free=free,
        amount=amount,
        entry=entry,
    )


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
