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
``billing.quota_batch``) calls ``forget_on_commit`` with the accounts it changed: when the
transaction commits, each account's write count ``(account, month)`` is bumped. An entry carries
the count its check saw *before* reading the database and answers only while the count is
unchanged, so a check that read old figures just before a commit stores an entry that never
answers (a plain delete would let it answer until its TTL). A rolled-back write bumps nothing.
What is left to the TTL: a write that bypasses these functions (raw SQL) and, with each process's
local memory as the cache, writes in other processes: ``BILLING_CHECK_CACHE_SHARED_SECONDS``
(default 60) on a shared Redis, ``BILLING_CHECK_CACHE_SECONDS`` (default 2) on local memory; ``0``
in the latter turns the cache off.

The namespace -> id map is kept the same way: a remembered id answers only while the *names
token* it was read under is current, and every account save that is not a create and every delete
renews the token on commit (``accounts_renamed_on_commit``), so on a shared Redis an id can be
remembered for ``BILLING_NAMESPACE_CACHE_SHARED_SECONDS`` (600) at no cost to a rename. The token
is read in the same ``MGET`` as the entry. On a shared Redis the map is shared too (an id one
process read serves the first check of every other), under the same token.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

__all__ = [
    "CHECK_CACHE_SECONDS",
    "SHARED_CHECK_CACHE_SECONDS",
    "CheckRead",
    "QuotaSnapshot",
    "account_by_namespace",
    "accounts_renamed_on_commit",
    "cached_account_id",
    "forget_on_commit",
    "names_token",
    "remembered_account",
    "shared_account",
    "quota_check_cache_clear",
    "snapshot_get",
    "snapshot_read",
    "snapshot_set",
]

CHECK_CACHE_SECONDS = float(getattr(settings, "BILLING_CHECK_CACHE_SECONDS", 2.0))
SHARED_CHECK_CACHE_SECONDS = float(getattr(settings, "BILLING_CHECK_CACHE_SHARED_SECONDS", 60.0))
# The namespace -> id map holds live namespaces only (an unknown one is looked up every time). On
# local memory an account renamed or deleted drops out within NAMESPACE_CACHE_SECONDS; on a shared
# Redis at once (the names token), and the TTL only bounds a rename by raw SQL.
NAMESPACE_CACHE_SECONDS = float(getattr(settings, "BILLING_SERVICE_CACHE_SECONDS", 10.0))
SHARED_NAMESPACE_CACHE_SECONDS = float(getattr(settings, "BILLING_NAMESPACE_CACHE_SHARED_SECONDS", 600.0))

QuotaSnapshot = tuple[Decimal, int]  # (balance, free calls of one service remaining this month)


class CheckRead(NamedTuple):
    """What one ``snapshot_read`` saw: the entry (None when absent or older than the account's last
    write), the account's write count and the names token, both as they were before any database
    read that follows."""

    snapshot: QuotaSnapshot | None
    writes: int
    names: str | None


# namespace -> (expires, account id, the names token read before the id was read; None: unknown)
_ids: dict[str, tuple[float, int, str | None]] = {}
_ids_lock = threading.Lock()
# Part of every key. Only tests change it (``quota_check_cache_clear``): SQLite reuses the ids of
# rolled-back rows and a test database's ids start again at 1 on every run, while a shared Redis
# keeps the last run's entries and write counts for up to a few minutes, so each clear picks a
# value no other test or run uses. Every process of a deployment keeps "0", which is what lets a
# write in one process retire the entries another process reads.
_generation = "0"
_now = time.monotonic


def quota_check_cache_clear() -> None:
    """Forget every entry this process can see (tests)."""
    global _generation, _store
    with _ids_lock:
        _generation = secrets.token_hex(6)
        _ids.clear()
        _store = None


def _key(account_id: int, month: date) -> str:
    return f"qcheck:{_generation}:{account_id}:{month:%Y%m}"


def _writes_key(account_id: int, month: date) -> str:
    """How many writes have moved the account's figures (bumped on each commit; absent = 0)."""
    return f"qwrites:{_generation}:{account_id}:{month:%Y%m}"


def _names_key() -> str:
    """A random token, replaced whenever a namespace may have moved to another account or gone.
    Never expires; absent (a flushed Redis) means unknown, and nothing read under it is kept."""
    return f"qnames:{_generation}"


def names_token() -> str | None:
    """The names token now, created when absent (one round trip, two more when absent); read it
    before reading a namespace's account, and remember the id under it. None: no cache."""
    if CHECK_CACHE_SECONDS <= 0:
        return None
    store = _the_store()
    token = store.get_many([_names_key()])[0]
    if token is None:
        store.add(_names_key(), secrets.token_hex(8))
        token = store.get_many([_names_key()])[0]
    return token


def _namespace_key(namespace: str) -> str:
    """The shared namespace -> id map: ``"<id>|<names token it was read under>"``."""
    return f"qns:{_generation}:{namespace}"


def shared_account(namespace: str) -> tuple[int | None, str | None]:
    """The account id some process read for ``namespace`` under the current names token (then
    remembered here too), else None; and the names token now (created when absent). One ``MGET``
    on a shared store; without one, the token alone."""
    if CHECK_CACHE_SECONDS <= 0:
        return None, None
    store = _the_store()
    if not store.shared:
        return None, names_token()
    value, token = store.get_many([_namespace_key(namespace), _names_key()])
    if token is None:
        return None, names_token()
    if value is not None:
        id_text, _, read_under = value.partition("|")
        if read_under == token:
            with _ids_lock:
                _ids[namespace] = (_now() + SHARED_NAMESPACE_CACHE_SECONDS, int(id_text), token)
            return int(id_text), token
    return None, token


def remembered_account(namespace: str) -> tuple[int, str | None] | None:
    """The account id this process last read for ``namespace`` and the names token read before
    it, if lately (no query). The caller compares the token with ``snapshot_read``'s."""
    hit = _ids.get(namespace)
    return (hit[1], hit[2]) if hit is not None and hit[0] > _now() else None


def cached_account_id(namespace: str) -> int | None:
    remembered = remembered_account(namespace)
    return remembered[0] if remembered is not None else None


def account_by_namespace(namespace: str, *, names: str | None = None) -> tuple[int, Decimal] | None:
    """The id and balance of the account ``namespace``, read now, its id remembered under
    ``names`` (the token read before this read; None: answers nothing until read again); None for
    an unknown namespace. Every check that reads the database reads the account this way, so an id
    remembered for an account deleted since (or rolled back) answers at most a cached entry."""
    from billing.models import Account

    row = Account.objects.filter(namespace=namespace).values_list("pk", "balance").first()
    if row is None:
        with _ids_lock:
            _ids.pop(namespace, None)
        return None
    if CHECK_CACHE_SECONDS > 0:
        store = _the_store()
        seconds = SHARED_NAMESPACE_CACHE_SECONDS if store.shared else NAMESPACE_CACHE_SECONDS
        with _ids_lock:
            _ids[namespace] = (_now() + seconds, row[0], names)
        if store.shared and names is not None:  # for the other processes (``shared_account``)
            store.set(_namespace_key(namespace), f"{row[0]}|{names}", seconds)
    return row[0], row[1]


class _DjangoCacheStore:
    """Any Django cache backend (local memory on the embedded default: each process its own, so a
    write in one process reaches another's entries only through their short TTL)."""

    shared = False

    def get_many(self, keys: list[str]) -> list[str | None]:
        found = caches["default"].get_many(keys)
        return [found.get(key) if isinstance(found.get(key), str) else None for key in keys]

    def set(self, key: str, value: str, seconds: float | None) -> None:
        caches["default"].set(key, value, seconds)

    def add(self, key: str, value: str) -> None:
        caches["default"].add(key, value, None)

    def bump(self, keys: list[str], seconds: float) -> None:
        cache = caches["default"]
        for key in keys:
            cache.set(key, str(int(cache.get(key) or 0) + 1), seconds)


class _RedisStore:
    """The Redis behind Django's ``RedisCache``, through one kept client. Measured on this hot path
    (docs/billing.md "check-quota cache"): ``cache.get`` builds a client per call and unpickles,
    0.5-0.6 ms wall / 0.2-0.3 ms CPU per read; a kept client's GET of a plain string costs 0.13-0.3
    ms. Keys keep the cache's prefix and version (``make_key``)."""

    shared = True

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._client = backend._cache.get_client(write=True)

    def get_many(self, keys: list[str]) -> list[str | None]:
        values = self._client.mget([self._backend.make_key(key) for key in keys])
        return [value.decode() if value is not None else None for value in values]

    def set(self, key: str, value: str, seconds: float | None) -> None:
        px = None if seconds is None else max(1, int(seconds * 1000))
        self._client.set(self._backend.make_key(key), value, px=px)

    def add(self, key: str, value: str) -> None:
        self._client.set(self._backend.make_key(key), value, nx=True)

    def bump(self, keys: list[str], seconds: float) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key in keys:
            full = self._backend.make_key(key)
            pipe.incr(full)
            pipe.pexpire(full, max(1, int(seconds * 1000)))
        pipe.execute()


_store: _DjangoCacheStore | _RedisStore | None = None


def _the_store() -> _DjangoCacheStore | _RedisStore:
    global _store
    if _store is None:
        from django.core.cache.backends.redis import RedisCache

        backend = caches["default"]
        _store = _RedisStore(backend) if isinstance(backend, RedisCache) else _DjangoCacheStore()
    return _store


def _seconds(store: _DjangoCacheStore | _RedisStore) -> float:
    """How long an entry lives: long where every write's bump reaches every reader (a shared
    store), short where it does not (each process's local memory)."""
    return SHARED_CHECK_CACHE_SECONDS if store.shared else CHECK_CACHE_SECONDS


def _encode(written: int, balance: Decimal, services: dict[int, int]) -> str:
    return "|".join([str(written), str(balance), *(f"{sid}:{left}" for sid, left in services.items())])


def _decode(value: str) -> tuple[int, Decimal, dict[int, int]]:
    written, balance, *parts = value.split("|")
    services = {int(sid): int(left) for sid, left in (part.split(":") for part in parts)}
    return int(written), Decimal(balance), services


def snapshot_read(account_id: int, service_id: int, month: date) -> CheckRead:
    """The cached figures of ``service_id`` (None when absent or written before the account's last
    write), the account's write count now, which a check that reads the database hands back to
    ``snapshot_set``, and the names token. One round trip (``MGET`` of the entry, the count and the
    token)."""
    if CHECK_CACHE_SECONDS <= 0:
        return CheckRead(None, 0, None)
    store = _the_store()
    value, writes, names = store.get_many(
        [_key(account_id, month), _writes_key(account_id, month), _names_key()]
    )
    seen = int(writes or 0)
    if value is None:
        return CheckRead(None, seen, names)
    written, balance, services = _decode(value)
    left = services.get(service_id)
    return CheckRead((balance, left) if left is not None and written == seen else None, seen, names)


def snapshot_get(account_id: int, service_id: int, month: date) -> QuotaSnapshot | None:
    return snapshot_read(account_id, service_id, month).snapshot


def snapshot_set(
    account_id: int, service_id: int, month: date, snapshot: QuotaSnapshot, *, seen: int | None = None
) -> None:
    """Store what a check read from the database after ``snapshot_read`` saw ``seen`` writes (now,
    when None). A write committed after that read has bumped the count, so this entry never
    answers (conservative: the figures may already include it). Another service's figure stored
    for the month is kept only if it was read at the same count with the same balance."""
    if CHECK_CACHE_SECONDS <= 0:
        return
    store = _the_store()
    key = _key(account_id, month)
    old, writes = store.get_many([key, _writes_key(account_id, month)])
    if seen is None:
        seen = int(writes or 0)
    balance, remaining = snapshot
    services: dict[int, int] = {}
    if old is not None:
        old_written, old_balance, old_services = _decode(old)
        if old_written == seen and old_balance == balance:
            services = old_services
    services[service_id] = remaining
    store.set(key, _encode(seen, balance, services), _seconds(store))


def _forget(account_ids: frozenset[int]) -> None:
    from config import clock

    month = clock.month_of(clock.now())
    store = _the_store()
    # The count outlives every entry written under it (2x their TTL, renewed by each write), so a
    # count that expired cannot make an old entry current again.
    store.bump([_writes_key(account_id, month) for account_id in account_ids], 2 * _seconds(store) + 60)


def forget_on_commit(account_ids: Iterable[int]) -> None:
    """Retire the check entries of ``account_ids`` (bump their write counts) once the current
    transaction commits (at once outside one). Called by every write that moves a balance or uses
    quota."""
    if CHECK_CACHE_SECONDS <= 0:
        return
    ids = frozenset(account_ids)
    if ids:
        transaction.on_commit(lambda: _forget(ids))


def _renew_names_token() -> None:
    _the_store().set(_names_key(), secrets.token_hex(8), None)


def accounts_renamed_on_commit(**_: Any) -> None:
    """An account was changed (not created) or deleted: once the transaction commits, renew the
    names token, which retires every process's remembered namespace -> id (signal receiver)."""
    if CHECK_CACHE_SECONDS > 0:
        transaction.on_commit(_renew_names_token)
