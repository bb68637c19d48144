"""Real concurrency on MariaDB: order numbers under 50 concurrent placements, and concurrent pays of
one order charging once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from billing.models import LedgerEntry, LedgerKind
from billing.tenancy import personal_account
from config.exceptions import DomainError
from orders.models.vehicle import VehicleOrder, VehicleOrderEvent
from orders.services.vehicle import place_driver_order, vehicle_order_pay
from tests.conftest import mariadb_only
from tests.orders.vehicle.factories import fund, make_driver_order
from tests.orders.vehicle.helpers import assert_balance_matches_ledger, balance

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def _run(n: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    results: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)
    lock = threading.Lock()

    def target(i: int) -> None:
        try:
            barrier.wait()
            out = work(i)
            with lock:
                results.append(out)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results, errors


def test_50_concurrent_placements_get_50_distinct_increasing_order_nos(make_user: Any) -> None:
    users = [make_user(f"racer{i}") for i in range(5)]
    accounts = {u.pk: personal_account(u) for u in users}

    def place(i: int) -> str:
        u = users[i % len(users)]
        order = place_driver_order(
            owner=u, account=accounts[u.pk], vid=str(uuid.uuid4()), dids=[str(uuid.uuid4())],
            summary=Decimal("10"), payment=Decimal("10"),
        )  # fmt: skip
        return order.order_no

    numbers, errors = _run(50, place)
    assert errors == []
    assert len(numbers) == 50 and len(set(numbers)) == 50
    assert VehicleOrder.objects.filter(owner__in=users).count() == 50
    day = {n.split("-")[0] for n in numbers}
    assert len(day) == 1  # all placed on the same local day
    assert sorted(int(n.split("-")[1]) for n in numbers) == list(range(1, 51))
    assert VehicleOrderEvent.objects.filter(kind="placed").count() == 50


def test_concurrent_pays_of_one_order_charge_once(make_user: Any) -> None:
    owner = make_user("payer")
    fund(owner, "1000")
    order = make_driver_order(owner, summary="300.00")

    def pay(i: int) -> int:
        try:
            return vehicle_order_pay(order_id=order.order_id, actor=owner).state_code
        except DomainError as exc:
            return -int(exc.code_for("vehicle"))

    outcomes, errors = _run(20, pay)
    assert errors == []
    assert sorted(outcomes) == [-3502] * 19 + [2]
    charges = LedgerEntry.objects.filter(account_id=order.account_id, kind=LedgerKind.CHARGE)
    assert charges.count() == 1
    assert balance(order.account_id) == Decimal("700.0000")
    assert_balance_matches_ledger(order.account_id)
    assert VehicleOrderEvent.objects.filter(order=order, kind="pay").count() == 1


def test_same_idempotency_key_sent_concurrently_pays_once(make_user: Any, client_for: Any) -> None:
    owner = make_user("keyed")
    fund(owner, "1000")
    order = make_driver_order(owner, summary="250.00")
    url = f"/api/v1/orders/{order.order_id}/pay"

    def pay(i: int) -> tuple[int, Any]:
        res = client_for(owner).post(url, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
        return res.status_code, res.json()

    responses, errors = _run(10, pay)
    assert errors == []
    assert {status for status, _ in responses} == {200}
    assert all(body == responses[0][1] for _, body in responses)
    assert responses[0][1]["data"]["state_code"] == 2
    assert LedgerEntry.objects.filter(account_id=order.account_id, kind=LedgerKind.CHARGE).count() == 1
    assert balance(order.account_id) == Decimal("750.0000")
    assert_balance_matches_ledger(order.account_id)
