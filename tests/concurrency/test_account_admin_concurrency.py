"""Finance saving an account's admin page while charges commit, on MariaDB (real threads, real
row locks): the page's save never writes back a balance it read, so no charge is undone."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from billing.models import Account, LedgerEntry
from billing.services import account_charge, account_credit, account_get_or_create
from tests.concurrency.test_billing_concurrency import run_threads
from tests.conftest import mariadb_only

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]
CHARGERS, SAVERS, EACH = 4, 2, 15


def test_admin_saves_racing_charges_undo_none_of_them() -> None:
    account = account_get_or_create(namespace="admin-race")
    account_credit(account_id=account.pk, amount=Decimal("100"), idempotency_key="seed")
    root = get_user_model().objects.create_superuser("root", password="pass-root")
    errors: list[BaseException] = []
    saves: list[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            if i < CHARGERS:
                for j in range(EACH):
                    account_charge(account_id=account.pk, amount=Decimal("0.5"), idempotency_key=f"c{i}-{j}")
                return
            client = Client()
            client.force_login(root)
            for _ in range(EACH):
                r = client.post(f"/admin/billing/account/{account.pk}/change/", {"members": [root.pk]})
                with lock:
                    saves.append(r.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            with lock:
                errors.append(exc)

    run_threads(CHARGERS + SAVERS, worker)
    assert not errors, errors
    assert saves == [302] * (SAVERS * EACH)
    fresh = Account.objects.get(pk=account.pk)
    entries = LedgerEntry.objects.filter(account=account)
    assert fresh.balance == Decimal("100") - Decimal("0.5") * CHARGERS * EACH
    assert fresh.balance == sum(e.amount for e in entries)
    assert fresh.ledger_entry_count == entries.count() == 1 + CHARGERS * EACH
    assert list(fresh.members.values_list("pk", flat=True)) == [root.pk]
