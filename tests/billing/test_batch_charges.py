"""``billing.services.accounts_charge_locked``: the set-based posting of batch jobs keeps the
ledger rules of ``_post`` (funds checked in order, nothing written when short, keys unique)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from billing.models import Account, LedgerEntry
from billing.services import BatchCharge, accounts_charge_locked
from config.exceptions import InsufficientFunds
from tests.billing.factories import funded_account, ledger_sum

pytestmark = pytest.mark.django_db


def locked(*accounts: Account) -> dict[int, Account]:
    return {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=[a.pk for a in accounts])}


def charge(account: Account, amount: str, key: str) -> BatchCharge:
    return BatchCharge(account_id=account.pk, amount=Decimal(amount), idempotency_key=key, subject=("t", key))


def test_charges_in_order_with_running_balances_and_one_entry_each():
    a, b = funded_account("acme", "100"), funded_account("beta", "10")
    with transaction.atomic():
        entries = accounts_charge_locked(
            accounts=locked(a, b),
            charges=[charge(a, "30", "k1"), charge(b, "10", "k2"), charge(a, "70", "k3")],
        )
    assert [(e.amount, e.balance_after) for e in entries] == [
        (Decimal("-30"), Decimal("70")),
        (Decimal("-10"), Decimal("0")),
        (Decimal("-70"), Decimal("0")),
    ]
    assert all(e.pk for e in entries)
    assert LedgerEntry.objects.get(pk=entries[2].pk).idempotency_key == "k3"
    for account in (a, b):
        account.refresh_from_db()
        assert account.balance == Decimal("0") == ledger_sum(account)


def test_one_short_account_writes_nothing():
    a = funded_account("acme", "50")
    with pytest.raises(InsufficientFunds), transaction.atomic():
        accounts_charge_locked(accounts=locked(a), charges=[charge(a, "30", "k1"), charge(a, "30", "k2")])
    a.refresh_from_db()
    assert a.balance == Decimal("50") and LedgerEntry.objects.filter(account=a).count() == 1


def test_a_key_posted_before_fails_the_insert_and_moves_nothing():
    a = funded_account("acme", "100")
    with transaction.atomic():
        accounts_charge_locked(accounts=locked(a), charges=[charge(a, "30", "k1")])
    with pytest.raises(IntegrityError), transaction.atomic():
        accounts_charge_locked(accounts=locked(a), charges=[charge(a, "5", "k2"), charge(a, "30", "k1")])
    a.refresh_from_db()
    assert a.balance == Decimal("70") == ledger_sum(a)


@pytest.mark.django_db(transaction=True)  # no test-wide atomic block around it
def test_refuses_to_run_outside_a_transaction():
    a = funded_account("acme", "100")
    with pytest.raises(RuntimeError):
        accounts_charge_locked(accounts={a.pk: a}, charges=[charge(a, "1", "k1")])
    a.refresh_from_db()
    assert a.balance == Decimal("100")
