"""Pay, refunds (full and prorated, with numbers), underwriting dates and the lifecycle beat."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billing.models import LedgerKind
from config.api.errors import ErrorCode
from config.clock import local_tz
from config.exceptions import InsufficientFunds
from orders.vehicle.errors import VehicleOrderStateError
from orders.vehicle.models import VehicleOrder, VehicleOrderEvent, VehicleOrderState
from orders.vehicle.services import (
    vehicle_order_cancel,
    vehicle_order_pay,
    vehicle_order_underwrite,
    vehicle_orders_advance,
)
from orders.vehicle.tasks import vehicle_lifecycle
from orders.vehicle.transitions import prorated_refund
from tests.orders.vehicle.factories import fund, make_driver_order, make_plan_order
from tests.orders.vehicle.helpers import assert_balance_matches_ledger, balance, ledger

TZ = local_tz()


def _kinds(order: VehicleOrder) -> list[tuple[str, int | None, int]]:
    return list(
        VehicleOrderEvent.objects.filter(order=order)
        .order_by("id")
        .values_list("kind", "from_state", "to_state")
    )


@pytest.mark.django_db
def test_pay_charges_the_wallet_once(user: Any) -> None:
    fund(user, "1500")
    order = make_plan_order(user, prices=("1000.00", "250.50"), payment="1200.00")
    vehicle_order_pay(order_id=order.order_id, actor=user)
    assert balance(order.account_id) == Decimal("300.0000")
    with pytest.raises(VehicleOrderStateError, match=r"is paid \(2\)"):
        vehicle_order_pay(order_id=order.order_id, actor=user)
    charges = ledger(order.account_id, kind=LedgerKind.CHARGE)
    assert [c.amount for c in charges] == [Decimal("-1200.0000")]
    assert charges[0].subject_id == order.order_no
    event = VehicleOrderEvent.objects.get(order=order, kind="pay")
    assert event.data["charged"] == "1200.0000" and event.data["ledger_entry_id"] == charges[0].pk
    assert_balance_matches_ledger(order.account_id)


@pytest.mark.django_db
def test_pay_without_funds_changes_nothing(user: Any) -> None:
    fund(user, "10")
    order = make_plan_order(user)
    with pytest.raises(InsufficientFunds) as info:
        vehicle_order_pay(order_id=order.order_id, actor=user)
    assert info.value.code_for("vehicle") == ErrorCode.VEHICLE_INSUFFICIENT_BALANCE
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.CREATED
    assert balance(order.account_id) == Decimal("10.0000")
    assert _kinds(order) == [("placed", None, 1)]


@pytest.mark.django_db
def test_cancel_created_refunds_nothing(user: Any) -> None:
    fund(user, "100")
    order = make_plan_order(user)
    vehicle_order_cancel(order_id=order.order_id, actor=user, reason="changed my mind")
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.CANCELED
    event = VehicleOrderEvent.objects.get(order=order, kind="cancel")
    assert event.data == {"reason": "changed my mind", "refund": "0.0000"}
    assert ledger(order.account_id, kind=LedgerKind.REFUND) == []
    assert balance(order.account_id) == Decimal("100.0000")


@pytest.mark.django_db
def test_cancel_after_payment_refunds_in_full(user: Any) -> None:
    fund(user, "1000")
    order = make_plan_order(user, prices=("800.00",), payment="750.25")
    vehicle_order_pay(order_id=order.order_id, actor=user)
    assert balance(order.account_id) == Decimal("249.7500")
    vehicle_order_cancel(order_id=order.order_id, actor=user)
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.CANCELED_AFTER_PAYMENT
    refunds = ledger(order.account_id, kind=LedgerKind.REFUND)
    assert [r.amount for r in refunds] == [Decimal("750.2500")]
    event = VehicleOrderEvent.objects.get(order=order, kind="cancel")
    assert event.data["refund"] == "750.2500" and event.data["rule"] == "full"
    assert event.data["ledger_entry_id"] == refunds[0].pk
    assert balance(order.account_id) == Decimal("1000.0000")
    assert _kinds(order) == [("placed", None, 1), ("pay", 1, 2), ("cancel", 2, 8)]
    assert_balance_matches_ledger(order.account_id)


@pytest.mark.django_db
def test_cancel_after_underwriting_refunds_in_full(user: Any, staff_user: Any) -> None:
    fund(user, "1000")
    order = make_plan_order(user, prices=("600.00",))
    vehicle_order_pay(order_id=order.order_id, actor=user)
    vehicle_order_underwrite(order_id=order.order_id, actor=staff_user, result="approved")
    vehicle_order_cancel(order_id=order.order_id, actor=user)
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.CANCELED_AFTER_UNDERWRITING
    assert [r.amount for r in ledger(order.account_id, kind=LedgerKind.REFUND)] == [Decimal("600.0000")]
    assert balance(order.account_id) == Decimal("1000.0000")
    assert _kinds(order) == [("placed", None, 1), ("pay", 1, 2), ("underwrite", 2, 3), ("cancel", 3, 9)]


def test_prorated_refund_numbers() -> None:
    start = datetime(2026, 1, 1, tzinfo=TZ)
    stop = datetime(2027, 1, 1, tzinfo=TZ)
    # 1 Jan .. 1 Mar (day of the cancel counts as used): 60 used, 305 unused of 365.
    got = prorated_refund(
        payment=Decimal("1000.00"), start_at=start, stop_at=stop, now=datetime(2026, 3, 1, 12, tzinfo=TZ)
    )
    assert got == {"refund": "835.6100", "total_days": 365, "used_days": 60, "unused_days": 305}
    # 1000 * 305 / 365 = 835.6164...: rounded down to the cent.
    last_day = prorated_refund(
        payment=Decimal("1000.00"), start_at=start, stop_at=stop, now=datetime(2026, 12, 31, 23, tzinfo=TZ)
    )
    assert last_day["refund"] == "0.0000"
    before_start = prorated_refund(
        payment=Decimal("99.99"), start_at=start, stop_at=stop, now=datetime(2025, 12, 31, tzinfo=TZ)
    )
    assert before_start["refund"] == "99.9900"


@pytest.mark.django_db
def test_cancel_in_force_refunds_prorated(user: Any, staff_user: Any) -> None:
    fund(user, "1000")
    order = make_plan_order(user, prices=("1000.00",))
    vehicle_order_pay(order_id=order.order_id, actor=user)
    assert balance(order.account_id) == Decimal("0.0000")
    VehicleOrder.objects.filter(pk=order.pk).update(
        state_code=VehicleOrderState.IN_FORCE,
        state="in force",
        start_at=datetime(2026, 1, 1, tzinfo=TZ),
        stop_at=datetime(2027, 1, 1, tzinfo=TZ),
    )
    vehicle_order_cancel(order_id=order.order_id, actor=user, now=datetime(2026, 3, 1, 12, tzinfo=TZ))
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.VOIDED
    assert [r.amount for r in ledger(order.account_id, kind=LedgerKind.REFUND)] == [Decimal("835.6100")]
    assert balance(order.account_id) == Decimal("835.6100")
    event = VehicleOrderEvent.objects.get(order=order, kind="cancel")
    assert event.data["rule"] == "prorated"
    assert (event.data["used_days"], event.data["unused_days"], event.data["total_days"]) == (60, 305, 365)
    assert_balance_matches_ledger(order.account_id)


@pytest.mark.django_db
def test_underwrite_uses_expected_start_or_next_local_day(user: Any, staff_user: Any) -> None:
    fund(user, "5000")
    future = make_plan_order(user, expect_at="2031-05-01T00:00:00+08:00")
    vehicle_order_pay(order_id=future.order_id, actor=user)
    vehicle_order_underwrite(order_id=future.order_id, actor=staff_user, result="approved")
    future.refresh_from_db()
    assert future.start_at == datetime(2031, 5, 1, tzinfo=TZ)
    assert future.stop_at == datetime(2032, 5, 1, tzinfo=TZ)

    past = make_plan_order(user, expect_at="2020-01-01T00:00:00+08:00")
    vehicle_order_pay(order_id=past.order_id, actor=user)
    now = datetime(2026, 11, 22, 23, 30, tzinfo=TZ)
    vehicle_order_underwrite(order_id=past.order_id, actor=staff_user, result="approved", now=now)
    past.refresh_from_db()
    assert past.start_at == datetime(2026, 11, 23, tzinfo=TZ)
    assert past.stop_at == datetime(2027, 11, 23, tzinfo=TZ)
    event = VehicleOrderEvent.objects.get(order=past, kind="underwrite")
    assert event.data["result"] == "approved" and event.actor_id == staff_user.pk


@pytest.mark.django_db
def test_underwrite_rejected_cancels_with_full_refund(user: Any, staff_user: Any) -> None:
    fund(user, "1000")
    order = make_plan_order(user, prices=("400.00",))
    vehicle_order_pay(order_id=order.order_id, actor=user)
    vehicle_order_underwrite(order_id=order.order_id, actor=staff_user, result="rejected")
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.CANCELED_AFTER_PAYMENT
    assert balance(order.account_id) == Decimal("1000.0000")
    event = VehicleOrderEvent.objects.get(order=order, kind="cancel")
    assert event.data["result"] == "rejected" and event.data["refund"] == "400.0000"


@pytest.mark.django_db
def test_lifecycle_beat_moves_due_orders_once(user: Any, staff_user: Any) -> None:
    fund(user, "10000")
    plan_order = make_plan_order(user, expect_at="2020-01-01T00:00:00+08:00")
    vehicle_order_pay(order_id=plan_order.order_id, actor=user)
    vehicle_order_underwrite(order_id=plan_order.order_id, actor=staff_user, result="approved")
    driver_order = make_driver_order(user)
    vehicle_order_pay(order_id=driver_order.order_id, actor=user)
    waiting = make_plan_order(user, expect_at="2031-01-01T00:00:00+08:00")
    vehicle_order_pay(order_id=waiting.order_id, actor=user)
    vehicle_order_underwrite(order_id=waiting.order_id, actor=staff_user, result="approved")

    plan_order.refresh_from_db()
    at_start = plan_order.start_at + timedelta(minutes=1)  # type: ignore[operator]
    counts = vehicle_orders_advance(now=at_start, chunk_size=1)
    assert counts == {"2->4": 1, "3->4": 1, "4->5": 0}
    assert vehicle_orders_advance(now=at_start) == {"2->4": 0, "3->4": 0, "4->5": 0}
    plan_order.refresh_from_db()
    driver_order.refresh_from_db()
    waiting.refresh_from_db()
    assert (plan_order.state_code, driver_order.state_code, waiting.state_code) == (4, 4, 3)

    vehicle_lifecycle.apply(kwargs={"at": (plan_order.stop_at + timedelta(seconds=1)).isoformat()})  # type: ignore[operator]
    plan_order.refresh_from_db()
    assert plan_order.state_code == VehicleOrderState.EXPIRED
    assert _kinds(plan_order) == [
        ("placed", None, 1), ("pay", 1, 2), ("underwrite", 2, 3), ("take_effect", 3, 4), ("expire", 4, 5),
    ]  # fmt: skip
    assert VehicleOrderEvent.objects.get(order=plan_order, kind="expire").actor_id is None
    assert timezone.is_aware(plan_order.stop_at)  # type: ignore[arg-type]
