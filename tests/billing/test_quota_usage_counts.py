"""The quota usages' counts behind the records list's ``total`` (B7): a usage that paid is counted
on its account row by its ledger entry's UPDATE, one that paid nothing on its quota row, by the
single path and the batch; a replay or a refused call counts nothing; the list reads them in one
statement without a ``COUNT(*)``; the audit finds a drift (``count_mismatch``) and the rebuild
repairs it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.ledger_write import ledger_entry_counts_rebuild
from billing.models import Account, LedgerEntry, MonthlyQuota, QuotaUsage
from billing.quota import metered_service_cache_clear, quota_deduct
from billing.quota_batch import DeductItem, quota_deduct_batch
from billing.quota_rows import quota_usage_counts_rebuild
from billing.selectors import account_record_counts
from config.exceptions import InsufficientFunds
from plans.models import MeteredService
from tests.billing.factories import funded_account
from usage.audit import ledger_audit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _services() -> Any:
    MeteredService.objects.update_or_create(
        service="payment", defaults={"unit_price": Decimal("0.1"), "monthly_free_quota": 10, "active": True}
    )
    MeteredService.objects.update_or_create(
        service="ping", defaults={"unit_price": Decimal("0"), "monthly_free_quota": 0, "active": True}
    )
    metered_service_cache_clear()
    yield
    metered_service_cache_clear()


def counted_and_found(account: Account) -> tuple[tuple[int, int], tuple[int, int]]:
    """(what the list's total reads, what ``COUNT(*)`` finds): (ledger entries, quota usages)."""
    entries = LedgerEntry.objects.filter(account=account).count()
    usages = QuotaUsage.objects.filter(account=account).count()
    return account_record_counts(account=account), (entries, usages)


def _count_findings() -> list[tuple[str, str, str]]:
    suffix = " (the records list's total)"
    found = [f for f in ledger_audit() if f.check == "count_mismatch"]
    return sorted((f.detail.removesuffix(suffix), f.expected, f.actual) for f in found)


def test_every_kind_of_single_deduction_is_counted_once(user) -> None:
    account = funded_account("acme", "1", member=user)
    quota_deduct(namespace="acme", service="payment", count=4, request_id="free")  # free only
    quota_deduct(namespace="acme", service="payment", count=8, request_id="mixed")  # 6 free + 2 paid
    quota_deduct(namespace="acme", service="payment", count=3, request_id="paid")  # paid only
    quota_deduct(namespace="acme", service="ping", count=2, request_id="zero-price")  # paid, costs 0
    quota_deduct(namespace="acme", service="payment", count=3, request_id="paid")  # a replay
    with pytest.raises(InsufficientFunds):
        quota_deduct(namespace="acme", service="payment", count=100, request_id="short")
    account.refresh_from_db()
    assert account.paid_quota_usage_count == 2  # mixed, paid
    quotas = MonthlyQuota.objects.filter(account=account)
    free = dict(quotas.values_list("service__service", "free_usage_count"))
    assert free == {"payment": 1, "ping": 1}  # free; zero-price
    assert counted_and_found(account) == ((3, 4), (3, 4))  # seed + 2 charges; 4 usages


def test_batches_count_like_the_single_path_and_replays_count_nothing(user) -> None:
    account = funded_account("acme", "1", member=user)
    items = [DeductItem("acme", "payment", 4, f"b{i}") for i in range(4)]  # free, free, 2+2, paid
    items.append(DeductItem("acme", "ping", 1, "z"))
    items.append(DeductItem("acme", "payment", 1000, "short"))
    results = quota_deduct_batch(items=items)
    assert [r.error is None for r in results] == [True] * 5 + [False]
    quota_deduct_batch(items=items[:3])  # replayed
    account.refresh_from_db()
    assert account.paid_quota_usage_count == 2  # b2 (2 free + 2 paid) and b3; z paid nothing
    assert counted_and_found(account) == ((3, 5), (3, 5))  # seed, b2, b3; b0-b3 and z


def test_the_list_total_reads_the_counts_in_one_statement_without_counting_rows(api, user) -> None:
    account = funded_account("alice", "5", member=user)
    for i in range(3):
        quota_deduct(namespace="alice", service="payment", count=6, request_id=f"r{i}")  # 10 free, 8 paid
    with CaptureQueriesContext(connection) as queries:
        assert account_record_counts(account=account) == (3, 3)
    assert len(queries) == 1 and "COUNT(" not in queries[0]["sql"].upper()
    with CaptureQueriesContext(connection) as queries:
        data = api.get("/api/v1/billing/records").json()["data"]
    assert data["total"] == 6 and len(data["results"]) == 6
    assert not [q for q in queries if "COUNT(" in q["sql"].upper() and "quotausage" in q["sql"].lower()]


def test_the_audit_finds_drift_and_the_rebuild_repairs_it(user) -> None:
    account = funded_account("acme", "1", member=user)
    quota_deduct(namespace="acme", service="payment", count=12, request_id="r1")
    assert _count_findings() == []
    Account.objects.filter(pk=account.pk).update(paid_quota_usage_count=5, ledger_entry_count=9)
    MonthlyQuota.objects.filter(account=account).update(free_usage_count=3)
    assert _count_findings() == [
        ("free_usage_count (sum of its quota rows) != quota usages without one", "0", "3"),
        ("ledger_entry_count != ledger entries", "2", "9"),
        ("paid_quota_usage_count != quota usages with a ledger entry", "1", "5"),
    ]
    assert quota_usage_counts_rebuild(account_ids=[account.pk]) == 1
    ledger_entry_counts_rebuild(account_ids=[account.pk])
    assert _count_findings() == []
    assert counted_and_found(account) == ((2, 1), (2, 1))


def test_the_migration_counts_usages_written_before_it(user) -> None:
    account = funded_account("acme", "1", member=user)
    quota_deduct(namespace="acme", service="payment", count=4, request_id="free")
    quota_deduct(namespace="acme", service="payment", count=8, request_id="mixed")
    Account.objects.update(paid_quota_usage_count=0)
    MonthlyQuota.objects.update(free_usage_count=0)
    migration = __import__("billing.migrations.0014_quota_usage_counts", fromlist=["count_existing"])
    migration.count_existing(django_apps, None)
    assert counted_and_found(account) == ((2, 2), (2, 2))  # seed + mixed's 2 paid calls
