"""``Account.ledger_entry_count`` (B7): kept by every posting in the posting's own transaction
(single postings, the batch charges, paid quota calls), equal to the ledger's ``COUNT(*)``; the
records list's unfiltered total reads it instead of counting the ledger; a refused posting counts
nothing; ``ledger_entry_counts_rebuild`` repairs rows written outside the posting functions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from billing.ledger_write import ledger_entry_counts_rebuild
from billing.models import Account, LedgerEntry
from billing.quota import quota_deduct
from billing.services import BatchCharge, account_charge, account_credit, accounts_charge_locked
from config.exceptions import InsufficientFunds
from tests.billing.factories import funded_account

pytestmark = pytest.mark.django_db


def _kept_and_counted(*accounts: Account) -> list[tuple[int, int]]:
    return [
        (Account.objects.get(pk=a.pk).ledger_entry_count, LedgerEntry.objects.filter(account=a).count())
        for a in accounts
    ]


def test_every_posting_path_keeps_the_count_equal_to_the_ledger(user):
    a, b = funded_account("acme", "100", member=user), funded_account("beta", "10")
    account_charge(account_id=a.pk, amount=Decimal("1"), idempotency_key="c1", subject=("t", 1))
    account_credit(account_id=a.pk, amount=Decimal("1"), idempotency_key="c1", subject=("t", 1))  # replay
    with pytest.raises(InsufficientFunds):
        account_charge(account_id=b.pk, amount=Decimal("99"), idempotency_key="c2", subject=("t", 2))
    with transaction.atomic():
        locked = {x.pk: x for x in Account.objects.select_for_update().filter(pk__in=[a.pk, b.pk])}
        accounts_charge_locked(
            accounts=locked,
            charges=[
                BatchCharge(account_id=a.pk, amount=Decimal("1"), idempotency_key=f"b{i}", subject=("t", i))
                for i in range(3)
            ]
            + [BatchCharge(account_id=b.pk, amount=Decimal("1"), idempotency_key="b9", subject=("t", 9))],
        )
    quota_deduct(account_id=a.pk, service="asset", count=1100, request_id="paid")  # 100 paid
    assert _kept_and_counted(a, b) == [(6, 6), (2, 2)]


def test_the_records_total_reads_the_count_and_rebuild_repairs_it(api, user):
    account = funded_account("alice", "5", member=user)
    account_charge(account_id=account.pk, amount=Decimal("1"), idempotency_key="x", subject=("t", 1))
    with CaptureQueriesContext(connection) as queries:
        data = api.get("/api/v1/billing/records").json()["data"]
    assert data["total"] == 2 and len(data["results"]) == 2
    ledger_counts = [q["sql"] for q in queries if "COUNT" in q["sql"] and "billing_ledgerentry" in q["sql"]]
    assert ledger_counts == []
    Account.objects.filter(pk=account.pk).update(ledger_entry_count=0)  # as after a raw restore
    assert ledger_entry_counts_rebuild(account_ids=[account.pk]) == 1
    assert _kept_and_counted(account) == [(2, 2)]
    assert ledger_entry_counts_rebuild() == Account.objects.count()


def test_saving_a_stale_account_instance_writes_neither_balance_nor_count():
    """``Account.save`` on a loaded instance leaves the two ledger-kept columns alone, whatever
    the instance holds; a create still writes them."""
    acc = funded_account("acme", "10")
    stale = Account.objects.get(pk=acc.pk)
    account_charge(account_id=acc.pk, amount=Decimal("4"), idempotency_key="after-the-read")
    stale.currency = "EUR"
    stale.balance = Decimal("999")  # neither a stale copy nor a direct edit moves money
    stale.save()
    fresh = Account.objects.get(pk=acc.pk)
    assert (fresh.balance, fresh.ledger_entry_count, fresh.currency) == (Decimal("6"), 2, "EUR")
    assert sum(e.amount for e in LedgerEntry.objects.filter(account=acc)) == fresh.balance
    created = Account.objects.create(namespace="fresh", currency="CNY")
    assert Account.objects.get(pk=created.pk).balance == Decimal("0")
