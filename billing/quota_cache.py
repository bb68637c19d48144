"""What ``check-quota`` answers from: a short-lived cache of an account's balance and month quota.

``POST /internal/v1/billing/check-quota`` is a read the gateway sends before every metered call
(benchmark B2). Without a cache it costs two queries (the account by namespace with its balance,
the month's quota row). With it, a repeated check is one cache read: the namespace -> account id
map is kept per process (an account's id never changes), and ``(account, month)`` -> ``(balance,
{service id: free calls remaining})`` in the shared cache (Redis when ``CELERY_BROKER_URL`` or
``CACHE_URL`` is Redis: ``config.settings``).

The deduct path stays the authority: ``check-quota`` is advice, ``deduct-quota`` locks the account
and refuses what the balance cannot pay whatever the cache said. To keep the advice current, every
write that moves a balance or a quota row (``billing.ledger_write.write_posting``,
``billing.batch_postings.accounts_charge_locked``, ``billing.quota_rows.record_usage``,
``billing.quota_batch``) calls ``forget_on_commit`` with the accounts it changed: their entries are
deleted when the transaction commits. A check that read the database just before such a commit can
store the old figures after the delete; ``BILLING_CHECK_CACHE_SECONDS`` (default 2) bounds how long
such an entry lives. ``0`` turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

__all__ = [
    "CHECK_CACHE_SECONDS",
    "QuotaSnapshot",
    "account_for_namespace",
    "forget_on_commit",
    "quota_check_cache_clear",
    "snapshot_get",
    "snapshot_set",
]

CHECK_CACHE_SECONDS = float(getattr(settings, "BILLING_CHECK_CACHE_SECONDS", 2.0))
# The namespace -> id map holds live namespaces only (an unknown one is looked up every time);
# an account renamed or deleted drops out within this many seconds.
NAMESPACE_CACHE_SECONDS = float(getattr(settings, "BILLING_SERVICE_CACHE_SECONDS", 10.0))

QuotaSnapshot = tuple[Decimal, int]  # (balance, free calls of one service remaining this month)

_ids: dict[str, tuple[float, int]] = {}
_ids_lock = threading.Lock()
# Part of every key. Only tests change it (``quota_check_cache_clear``): SQLite reuses the ids of
# rolled-back rows, so one test's entry must not answer the next. Every process of a deployment
# keeps 0, which is what lets a write in one process delete the entry another process reads.
_generation = 0
_now = time.monotonic


def quota_check_cache_clear() -> None:
    """Forget every entry this process can see (tests)."""
    global _generation
    with _ids_lock:
        _generation += 1
        _ids.clear()


def _key(account_id: int, month: date) -> str:
    return f"qcheck:{_generation}:{account_id}:{month:%Y%m}"


def account_for_namespace(namespace: str) -> tuple[int, Decimal | None] | None:
    """The id of the account ``namespace`` and, when it had to be read now, its balance (None when
    the id came from this process's map); None for an unknown namespace."""
    from billing.models import Account

    now = _now()
    hit = _ids.get(namespace)
    if hit is not None and hit[0] > now:
        return hit[1], None
    row = Account.objects.filter(namespace=namespace).values_list("pk", "balance").first()
    if row is None:
        return None
    if CHECK_CACHE_SECONDS > 0:
        with _ids_lock:
            _ids[namespace] = (now + NAMESPACE_CACHE_SECONDS, row[0])
    return row[0], row[1]


def snapshot_get(account_id: int, service_id: int, month: date) -> QuotaSnapshot | None:
    if CHECK_CACHE_SECONDS <= 0:
        return None
    value = cache.get(_key(account_id, month))
    if value is None or service_id not in value[1]:
        return None
    return Decimal(value[0]), int(value[1][service_id])


def snapshot_set(account_id: int, service_id: int, month: date, snapshot: QuotaSnapshot) -> None:
    """Store what a check read from the database. Another service's figure already stored for the
    month is kept only if it was read with the same balance (else it is dropped: read again)."""
    if CHECK_CACHE_SECONDS <= 0:
        return
    key = _key(account_id, month)
    balance, remaining = snapshot
    old = cache.get(key)
    services = dict(old[1]) if old is not None and Decimal(old[0]) == balance else {}
    services[service_id] = remaining
    cache.set(key, (str(balance), services), CHECK_CACHE_SECONDS)


def _forget(account_ids: frozenset[int]) -> None:
    from config import clock

    month = clock.month_of(clock.now())
    cache.delete_many([_key(account_id, month) for account_id in account_ids])


def forget_on_commit(account_ids: Iterable[int]) -> None:
    """Delete the check entries of ``account_ids`` once the current transaction commits (at once
    outside one). Called by every write that moves a balance or uses quota."""
    if CHECK_CACHE_SECONDS <= 0:
        return
    ids = frozenset(account_ids)
    if ids:
        transaction.on_commit(lambda: _forget(ids))
