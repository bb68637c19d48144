"""Races on MariaDB: concurrent creates with one resource name; a renewal run against a manual renew."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from config.exceptions import DomainError
from orders.models import PurchaseOrder
from orders.purchase.renewal import renewal_run
from orders.purchase.services import purchase_order_create, purchase_order_renew
from tests.conftest import mariadb_only
from tests.orders.purchase.helpers import account_of, assert_ledger, balance, local, make_plan
from usage.models import UsageRecord

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def in_threads(*targets: Callable[[], Any]) -> tuple[list[Any], list[BaseException]]:
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def wrap(fn: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results.append(fn())
        except BaseException as exc:  # noqa: BLE001 - collected for the assertions
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def test_concurrent_creates_with_one_resource_name_make_one_order(user: Any) -> None:
    make_plan("vol-50g", "30")
    account = account_of(user, "300")

    def create() -> Any:
        return purchase_order_create(
            account=account, creator=user, region="cn-north-1", plan_id="vol-50g",
            parameters={"resource_name": "shared"},
        )  # fmt: skip

    results, errors = in_threads(create, create, create)
    assert len(results) == 1
    assert len(errors) == 2 and all(
        isinstance(e, DomainError) and e.code_for("usageapi") == 3308 for e in errors
    )
    assert PurchaseOrder.objects.count() == 1
    assert balance(account) == Decimal("270")
    assert_ledger(account)


def test_renewal_run_and_manual_renew_at_once_charge_two_distinct_periods(user: Any) -> None:
    make_plan("vol-50g", "30")
    account = account_of(user, "300")
    order = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="vol-50g", at=local(2026, 3, 10, 12)
    ).order
    at = local(2026, 4, 5)
    _, errors = in_threads(
        lambda: renewal_run(at=at, chunk_size=10),
        lambda: purchase_order_renew(order_pk=order.pk, at=at),
    )
    assert not errors, errors
    starts = list(UsageRecord.objects.filter(order_ref=order.order_id).values_list("period_start", flat=True))
    assert len(starts) == len(set(starts))  # never the same period twice
    order.refresh_from_db()
    assert order.deadline in (local(2026, 5, 10, 12), local(2026, 6, 10, 12))
    assert balance(account) == Decimal("300") - 30 * len(starts)
    assert_ledger(account)
