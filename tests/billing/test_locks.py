"""billing.locks: what each helper returns, and on MariaDB that a held account is skipped by the
SKIP LOCKED helpers and waited for by the others."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from billing.locks import (
    account_lock,
    account_lock_balance,
    account_lock_row,
    account_then_row,
    account_try_lock,
    accounts_lock,
)
from billing.models import Account, RechargeOrder
from tests.billing.factories import funded_account
from tests.conftest import mariadb_only


@pytest.mark.django_db
def test_helpers_return_the_locked_rows() -> None:
    a = funded_account("locks-a", "12.5")
    b = funded_account("locks-b")
    with transaction.atomic():
        account_lock(a.pk)
        assert account_lock_row(a.pk).balance == Decimal("12.5000")
        assert account_lock_balance(a.pk) == Decimal("12.5000")
        assert account_lock_balance(a.pk + b.pk + 1000) is None
        assert account_try_lock(b.pk) is True
        assert list(accounts_lock([b.pk, a.pk, b.pk])) == sorted([a.pk, b.pk])
    with transaction.atomic(), pytest.raises(Account.DoesNotExist):
        account_lock(a.pk + b.pk + 1000)


@pytest.mark.django_db
def test_account_then_row_returns_the_row() -> None:
    account = funded_account("locks-row")
    order = RechargeOrder.objects.create(
        account=account,
        public_id="RC-locks-1",
        amount=Decimal("5"),
        currency="CNY",
        payment_method="sandbox",
        pay_token_hash="0" * 64,
    )
    with transaction.atomic():
        assert account_then_row(RechargeOrder, order.pk).public_id == "RC-locks-1"
    with transaction.atomic(), pytest.raises(RechargeOrder.DoesNotExist):
        account_then_row(RechargeOrder, order.pk + 1000)


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_a_held_account_is_skipped_or_waited_for() -> None:
    held = funded_account("locks-held")
    free = funded_account("locks-free")
    holding = threading.Event()
    release = threading.Event()

    def holder() -> None:
        try:
            with transaction.atomic():
                account_lock(held.pk)
                holding.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert holding.wait(30)
        with transaction.atomic():
            assert account_try_lock(held.pk) is False
            assert list(accounts_lock([held.pk, free.pk], skip_locked=True)) == [free.pk]
        waited: list[float] = []

        def waiter() -> None:
            try:
                started = time.monotonic()
                with transaction.atomic():
                    account_lock(held.pk)
                waited.append(time.monotonic() - started)
            finally:
                connection.close()

        second = threading.Thread(target=waiter)
        second.start()
        time.sleep(0.5)
        release.set()
        second.join(30)
        assert waited and waited[0] >= 0.4
    finally:
        release.set()
        thread.join(30)
