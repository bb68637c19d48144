"""Real concurrency on MariaDB: order numbers under 50 concurrent placements, concurrent pays of
one order charging once, and the per-owner order counts (B5) staying exact under racing
placements, state changes and recounts."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from billing.models import LedgerEntry, LedgerKind
from billing.tenancy import personal_account
from config.exceptions import DomainError
from orders.vehicle import placing as vehicle_placing
from orders.vehicle.counts import vehicle_order_counts_rebuild
from orders.vehicle.models import VehicleOrder, VehicleOrderEvent, VehicleOrderOwnerCount
from orders.vehicle.placing import place_driver_order
from orders.vehicle.selectors import vehicle_order_list
from orders.vehicle.services import vehicle_order_cancel, vehicle_order_pay
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


def _assert_counts_exact(users: list[Any]) -> None:
    for u in users:
        counted = VehicleOrderOwnerCount.objects.get(owner=u).total
        assert counted == VehicleOrder.objects.filter(owner=u).count(), u.username
        assert vehicle_order_list(user=u, offset=0, limit=1)[0] == counted


def test_owner_counts_stay_exact_under_concurrent_placements_state_changes_and_recounts(
    make_user: Any,
) -> None:
    """30 threads at one barrier: placements for 3 owners, pays and cancels of their orders, and
    full recounts, all at once. Every owner's count equals COUNT(*) afterwards."""
    users = [make_user(f"counted{i}") for i in range(3)]
    for u in users:
        fund(u, "100000")
    existing = [make_driver_order(u, summary="10.00") for u in users for _ in range(3)]

    def work(i: int) -> Any:
        u = users[i % 3]
        if i % 5 == 0:
            return vehicle_order_counts_rebuild(owner_ids=[x.pk for x in users])
        if i % 5 == 1 and existing:
            order = existing[i % len(existing)]
            try:
                return vehicle_order_pay(order_id=order.order_id, actor=order.owner).state_code
            except DomainError:
                return vehicle_order_cancel(order_id=order.order_id, actor=order.owner).state_code
        return make_driver_order(u, summary="10.00").order_no

    results, errors = _run(30, work)
    assert errors == [] and len(results) == 30
    assert VehicleOrder.objects.filter(owner__in=users).count() == 9 + 18
    _assert_counts_exact(users)


def test_first_counted_placements_racing_across_midnight_count_imported_rows_once(
    make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Owners whose earlier orders were imported around the services (no count row yet) place 24
    orders at once, half numbered on one day and half on the next (two day rows, so placements are
    not serialized by the order-number lock and really race to create the count row)."""
    users = [make_user(f"imported{i}") for i in range(2)]
    VehicleOrder.objects.bulk_create(
        [
            VehicleOrder(
                order_no=f"IMP-{u.pk}-{n}",
                type=1,
                vid=uuid.uuid4(),
                owner=u,
                account=personal_account(u),
                summary=Decimal("1"),
                payment=Decimal("1"),
            )  # fmt: skip
            for u in users
            for n in range(5)
        ]
    )
    assert not VehicleOrderOwnerCount.objects.filter(owner__in=users).exists()
    days = [date(2026, 11, 22), date(2026, 11, 23)]
    local = threading.local()
    monkeypatch.setattr(vehicle_placing, "_order_day", lambda now: local.day)

    def place(i: int) -> str:
        local.day = days[i % 2]
        u = users[(i // 2) % 2]
        return place_driver_order(
            owner=u, account=personal_account(u), vid=str(uuid.uuid4()), dids=[str(uuid.uuid4())],
            summary=Decimal("10"), payment=Decimal("10"),
        ).order_no  # fmt: skip

    numbers, errors = _run(24, place)
    assert errors == [] and len(set(numbers)) == 24
    assert {n.split("-")[0] for n in numbers} == {"V20261122", "V20261123"}
    for u in users:
        assert VehicleOrder.objects.filter(owner=u).count() == 5 + 12
    _assert_counts_exact(users)
