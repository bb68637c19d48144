"""Two renewal runs at once on MariaDB (SKIP LOCKED, real connections) charge each order once."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from billing.models import LedgerEntry
from config.money_sql import money_sum
from orders.models import PurchaseOrder, PurchaseOrderStatus
from orders.purchase.renewal import RenewalSummary, renewal_run
from orders.purchase.services import purchase_order_create
from tests.conftest import mariadb_only
from tests.orders.purchase.helpers import account_of, local, make_plan
from usage.models import UsageKind, UsageRecord

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def test_two_parallel_renewal_runs_charge_each_order_once(make_user: Any) -> None:
    make_plan("vol-50g", "30")
    orders = []
    accounts = []
    for i in range(6):
        user = make_user(f"user{i}")
        account = account_of(user, "130")
        accounts.append(account)
        for _ in range(2):
            r = purchase_order_create(
                account=account,
                creator=user,
                region="cn-north-1",
                plan_id="vol-50g",
                at=local(2026, 3, 10, 12),
            )
            orders.append(r.order)
    at = local(2026, 4, 5)
    results: list[RenewalSummary] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker() -> None:
        try:
            barrier.wait()
            results.append(renewal_run(at=at, chunk_size=3))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(r.renewed for r in results) == len(orders)
    for order in orders:
        assert UsageRecord.objects.filter(order_ref=order.order_id, kind=UsageKind.RENEW).count() == 1
        order.refresh_from_db()
        assert order.status == PurchaseOrderStatus.CONSUMING and order.deadline == local(2026, 5, 10, 12)
    for account in accounts:
        account.refresh_from_db()
        assert account.balance == Decimal("10")
        total = money_sum(LedgerEntry.objects.filter(account=account))
        assert account.balance == total
    # and a third run for the same moment charges nothing
    assert renewal_run(at=at, chunk_size=3).renewed == 0
    assert PurchaseOrder.objects.count() == len(orders)
