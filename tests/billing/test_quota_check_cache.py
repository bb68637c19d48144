"""check-quota answers from billing.quota_cache; every write that moves the balance or the quota
clears it on commit, and deduct-quota stays the authority (docs/billing.md "check-quota cache")."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing import quota_cache
from billing.batch_postings import BatchCharge, accounts_charge_locked
from billing.errors import AccountNotFound
from billing.locks import accounts_lock
from billing.quota import metered_service_cache_clear, quota_check, quota_deduct
from billing.quota_batch import DeductItem, quota_deduct_batch
from billing.services import account_credit
from config import clock
from config.exceptions import InsufficientFunds
from plans.models import MeteredService
from tests.billing.factories import funded_account, ledger_sum

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_service_cache():
    metered_service_cache_clear()
    yield
    metered_service_cache_clear()


def use_up_free_quota(account, on_commit) -> None:
    with on_commit(execute=True):
        quota_deduct(account_id=account.pk, service="payment", count=1000, request_id="free-all")


def check(namespace: str, count: int = 1):
    return quota_check(namespace=namespace, service="payment", count=count)


def test_a_repeated_check_reads_nothing_from_the_database():
    funded_account("acme", "5")
    first = check("acme", 1001)
    with CaptureQueriesContext(connection) as ctx:
        again = check("acme", 1001)
    assert len(ctx.captured_queries) == 0
    assert first == again
    assert (again.allowed, again.reason, again.free_remaining) == (True, "balance", 1000)


def test_a_paid_deduction_clears_the_entry_on_commit(django_capture_on_commit_callbacks):
    acc = funded_account("acme", "0.2")
    use_up_free_quota(acc, django_capture_on_commit_callbacks)
    assert check("acme").allowed
    with django_capture_on_commit_callbacks(execute=True):
        quota_deduct(account_id=acc.pk, service="payment", count=2, request_id="paid")
    refused = check("acme")
    assert (refused.allowed, refused.reason) == (False, "insufficient balance")
    assert refused.amount == Decimal("0.1000")


def test_a_free_deduction_clears_the_entry(django_capture_on_commit_callbacks):
    funded_account("acme", "0")
    assert check("acme").free_remaining == 1000
    with django_capture_on_commit_callbacks(execute=True):
        quota_deduct(namespace="acme", service="payment", count=400, request_id="f1")
    assert check("acme").free_remaining == 600


def test_a_recharge_clears_the_entry(django_capture_on_commit_callbacks):
    acc = funded_account("acme", "0")
    use_up_free_quota(acc, django_capture_on_commit_callbacks)
    assert not check("acme").allowed
    with django_capture_on_commit_callbacks(execute=True):
        account_credit(account_id=acc.pk, amount=Decimal("1"), idempotency_key="top-up")
    assert check("acme").allowed


def test_a_batch_job_charge_clears_the_entry(django_capture_on_commit_callbacks):
    acc = funded_account("acme", "0.1")
    use_up_free_quota(acc, django_capture_on_commit_callbacks)
    assert check("acme").allowed
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        accounts = accounts_lock([acc.pk])
        charge = BatchCharge(account_id=acc.pk, amount=Decimal("0.1"), idempotency_key="rn", subject=("t", 1))
        accounts_charge_locked(accounts=accounts, charges=[charge])
    assert not check("acme").allowed


def test_a_batch_deduction_of_free_calls_clears_the_entry(django_capture_on_commit_callbacks):
    funded_account("acme", "0")
    assert check("acme").free_remaining == 1000
    with django_capture_on_commit_callbacks(execute=True):
        quota_deduct_batch(items=[DeductItem(namespace="acme", service="payment", count=10, request_id="b1")])
    assert check("acme").free_remaining == 990


def test_a_rolled_back_write_leaves_the_entry_alone(django_capture_on_commit_callbacks):
    acc = funded_account("acme", "0.1")
    use_up_free_quota(acc, django_capture_on_commit_callbacks)
    assert check("acme").allowed
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(InsufficientFunds):
            quota_deduct(account_id=acc.pk, service="payment", count=5, request_id="too-many")
    assert callbacks == []
    assert check("acme").allowed


def test_a_stale_entry_never_lets_the_deduction_overdraw(django_capture_on_commit_callbacks):
    """The cache may be behind (a write in another process clears it only on commit); the deduct
    path locks the row and refuses what the balance cannot pay."""
    acc = funded_account("acme", "0.1")
    use_up_free_quota(acc, django_capture_on_commit_callbacks)
    svc = MeteredService.objects.get(service="payment")
    month = clock.month_of(clock.now())
    quota_cache.snapshot_set(acc.pk, svc.pk, month, (Decimal("1000"), 0))
    assert check("acme", 50).allowed  # the stale figure answers the advice
    with pytest.raises(InsufficientFunds):
        quota_deduct(account_id=acc.pk, service="payment", count=50, request_id="big")
    acc.refresh_from_db()
    assert acc.balance == Decimal("0.1") == ledger_sum(acc)


def test_another_services_figure_is_kept_only_with_the_same_balance():
    acc = funded_account("acme", "3")
    svc = MeteredService.objects.get(service="payment")
    month = clock.month_of(clock.now())
    quota_cache.snapshot_set(acc.pk, svc.pk, month, (Decimal("3"), 10))
    quota_cache.snapshot_set(acc.pk, svc.pk + 1000, month, (Decimal("3"), 7))
    assert quota_cache.snapshot_get(acc.pk, svc.pk, month) == (Decimal("3"), 10)
    quota_cache.snapshot_set(acc.pk, svc.pk + 1000, month, (Decimal("4"), 7))
    assert quota_cache.snapshot_get(acc.pk, svc.pk, month) is None


def test_zero_seconds_turns_the_cache_off(monkeypatch):
    monkeypatch.setattr(quota_cache, "CHECK_CACHE_SECONDS", 0.0)
    funded_account("acme", "5")
    check("acme")
    with CaptureQueriesContext(connection) as ctx:
        check("acme")
    assert len(ctx.captured_queries) == 2  # the account by namespace with its balance, the quota row


def test_a_namespace_whose_account_was_replaced_is_read_again():
    """The id remembered for a namespace can outlive its account (deleted, or a rolled-back
    transaction: the examples recording runs twice in one process); a check that must read the
    database reads the account by its namespace."""
    from billing.models import Account

    old = funded_account("acme", "0")
    check("acme")
    Account.objects.filter(pk=old.pk).delete()
    funded_account("other", "0")
    new = funded_account("acme", "3")
    assert new.pk != old.pk
    quota_cache._forget(frozenset({old.pk}))
    answer = check("acme", 1001)
    assert (answer.allowed, answer.reason, answer.free_remaining) == (True, "balance", 1000)
    assert quota_cache.cached_account_id("acme") == new.pk


def test_an_unknown_namespace_is_refused_every_time():
    for _ in range(2):
        with pytest.raises(AccountNotFound):
            check("nobody")


def test_a_check_for_another_month_reads_the_database(django_capture_on_commit_callbacks):
    acc = funded_account("acme", "0")
    use_up_free_quota(acc, django_capture_on_commit_callbacks)
    check("acme")
    with CaptureQueriesContext(connection) as ctx:
        later = quota_check(account=acc, service="payment", count=1, at=clock.now().replace(year=2099))
    assert len(ctx.captured_queries) == 2 and later.free_remaining == 1000


def _redis_backend():
    from django.core.cache.backends.redis import RedisCache

    backend = RedisCache("redis://127.0.0.1:6379/15", {"KEY_PREFIX": "tally-test-qcheck"})
    try:
        backend.get("probe")
    except Exception as exc:  # noqa: BLE001 - any connection failure means: no local Redis
        pytest.skip(f"no Redis at 127.0.0.1:6379 ({exc.__class__.__name__})")
    return backend


@pytest.mark.parametrize("kind", ["django-cache", "redis"])
def test_each_store_keeps_reads_and_forgets_an_entry(kind, monkeypatch):
    store = quota_cache._RedisStore(_redis_backend()) if kind == "redis" else quota_cache._DjangoCacheStore()
    monkeypatch.setattr(quota_cache, "_store", store)
    month = clock.month_of(clock.now())
    quota_cache.snapshot_set(7, 1, month, (Decimal("12.3400"), 55))
    quota_cache.snapshot_set(7, 2, month, (Decimal("12.3400"), 9))
    assert quota_cache.snapshot_get(7, 1, month) == (Decimal("12.3400"), 55)
    assert quota_cache.snapshot_get(7, 2, month) == (Decimal("12.3400"), 9)
    quota_cache._forget(frozenset({7}))
    assert quota_cache.snapshot_get(7, 1, month) is None


@pytest.mark.parametrize("kind", ["django-cache", "redis"])
def test_an_entry_read_before_a_commit_never_answers_after_it(kind, monkeypatch):
    """The race a plain delete loses: a check reads the database, a write commits and retires
    the account's entries, then the check stores what it read. The count it saw first is older
    than the write's bump, so the stored entry does not answer (with either store)."""
    store = quota_cache._RedisStore(_redis_backend()) if kind == "redis" else quota_cache._DjangoCacheStore()
    monkeypatch.setattr(quota_cache, "_store", store)
    quota_cache.quota_check_cache_clear()
    monkeypatch.setattr(quota_cache, "_store", store)
    month = clock.month_of(clock.now())
    acc = random.randrange(10**9, 2 * 10**9)  # Redis outlives the test run: an id no other run uses
    assert quota_cache.snapshot_read(acc, 1, month)[:2] == (None, 0)  # the check's read: nothing, 0 writes
    quota_cache._forget(frozenset({acc}))  # another request's deduction commits
    quota_cache.snapshot_set(acc, 1, month, (Decimal("5.0000"), 3), seen=0)  # the figures read before it
    assert quota_cache.snapshot_read(acc, 1, month)[:2] == (None, 1)
    quota_cache.snapshot_set(acc, 1, month, (Decimal("4.0000"), 3), seen=1)  # a check after the commit
    assert quota_cache.snapshot_read(acc, 1, month)[:2] == ((Decimal("4.0000"), 3), 1)


def test_a_shared_store_keeps_entries_for_the_shared_ttl(monkeypatch):
    """On Redis every write's bump reaches every reader, so an entry can live the long TTL."""
    backend = _redis_backend()
    store = quota_cache._RedisStore(backend)
    monkeypatch.setattr(quota_cache, "_store", store)
    month = clock.month_of(clock.now())
    quota_cache.snapshot_set(9, 1, month, (Decimal("1.0000"), 2))
    ttl_ms = store._client.pttl(backend.make_key(quota_cache._key(9, month)))
    assert quota_cache.CHECK_CACHE_SECONDS * 1000 < ttl_ms <= quota_cache.SHARED_CHECK_CACHE_SECONDS * 1000


@pytest.fixture
def shared_store(monkeypatch):
    """check-quota on a shared Redis, with keys no other test or run uses."""
    store = quota_cache._RedisStore(_redis_backend())
    quota_cache.quota_check_cache_clear()
    monkeypatch.setattr(quota_cache, "_store", store)
    yield store
    quota_cache.quota_check_cache_clear()


def _queries_of_a_check(namespace: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        check(namespace)
    return len(ctx.captured_queries)


def test_on_a_shared_store_a_namespace_is_remembered_past_the_local_ttl(shared_store, monkeypatch):
    """The gateway's checks over many accounts: after the first a check makes no query, also when
    the 10 s local TTL has passed: the names token says the namespace has not moved."""
    funded_account("acme", "5")
    assert [_queries_of_a_check("acme") for _ in range(2)] == [3, 0]  # the service, account, quota row
    clock_now = quota_cache._now()
    monkeypatch.setattr(quota_cache, "_now", lambda: clock_now + quota_cache.NAMESPACE_CACHE_SECONDS + 1)
    assert _queries_of_a_check("acme") == 0
    # a process that never read it (here: past this process's own 600 s) takes the shared map's id
    monkeypatch.setattr(
        quota_cache, "_now", lambda: clock_now + quota_cache.SHARED_NAMESPACE_CACHE_SECONDS + 1
    )
    assert _queries_of_a_check("acme") == 0
    # without the shared map's entry (its own 600 s past) the account is read by its namespace
    quota_cache._ids.clear()
    shared_store._client.delete(shared_store._backend.make_key(quota_cache._namespace_key("acme")))
    assert _queries_of_a_check("acme") == 1


def test_a_rename_committed_anywhere_retires_every_remembered_namespace(
    shared_store, django_capture_on_commit_callbacks
):
    """A namespace handed to another account: the next check reads the account by its namespace
    again, in every process (here: the token renewed by the rename's commit, as another process
    would see it in the shared store)."""
    from billing.models import Account

    old = funded_account("acme", "0")
    check("acme")
    assert _queries_of_a_check("acme") == 0
    with django_capture_on_commit_callbacks(execute=True):
        old.namespace = "acme-old"
        old.save()
        new = Account.objects.create(namespace="acme", balance=Decimal("0"))
    account_credit(account_id=new.pk, amount=Decimal("3"), idempotency_key="topup")
    answer = check("acme", 1001)
    assert (answer.allowed, answer.reason) == (True, "balance")
    assert quota_cache.cached_account_id("acme") == new.pk


def test_a_save_that_cannot_rename_keeps_the_remembered_namespaces(
    shared_store, django_capture_on_commit_callbacks
):
    acc = funded_account("acme", "5")
    check("acme")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        acc.save(update_fields=["balance"])
    assert callbacks == []
    assert _queries_of_a_check("acme") == 0


def test_a_flushed_store_keeps_no_namespace_until_the_token_is_back(shared_store):
    """With the token gone (a Redis restart or flush), no remembered id answers: the check reads
    the account again under a new token, and the next one reads nothing."""
    funded_account("acme", "5")
    for _ in range(2):
        check("acme")
    shared_store._client.delete(shared_store._backend.make_key(quota_cache._names_key()))
    assert [_queries_of_a_check("acme") for _ in range(2)] == [2, 0]


def test_a_shared_id_read_under_an_old_token_is_not_taken(shared_store):
    """Another process's id for the namespace, stored before a rename renewed the token, is
    ignored: the check reads the account by its namespace."""
    acc = funded_account("acme", "5")
    check("acme")  # creates the token
    key = shared_store._backend.make_key(quota_cache._namespace_key("acme"))
    shared_store._client.set(key, f"{acc.pk + 1000}|an-old-token")
    quota_cache._ids.clear()  # this process has not read it
    with CaptureQueriesContext(connection) as ctx:
        answer = check("acme", 1001)
    assert len(ctx.captured_queries) == 1 and answer.allowed  # the account, by its namespace
    assert quota_cache.cached_account_id("acme") == acc.pk
    assert shared_store._client.get(key).decode().startswith(f"{acc.pk}|")
