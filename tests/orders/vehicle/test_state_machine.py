"""The transition map: every allowed move works and writes its event; every other move is refused
with 3502 naming the current state, and changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from billing.models import LedgerEntry
from config.api.errors import ErrorCode
from orders.vehicle.errors import VehicleOrderStateError
from orders.vehicle.models import VehicleOrder, VehicleOrderEvent, VehicleOrderState, VehicleOrderType
from orders.vehicle.transitions import TRANSITIONS, vehicle_order_transition
from tests.orders.vehicle.factories import fund, make_order
from tests.orders.vehicle.helpers import assert_balance_matches_ledger

STATES = list(VehicleOrderState.values)
ALLOWED = {
    (1, 2), (1, 7), (2, 3), (2, 4), (2, 8), (3, 4), (3, 9), (4, 5), (4, 6),
}  # fmt: skip


def test_the_map_is_the_domain_list() -> None:
    assert set(TRANSITIONS) == ALLOWED


def _type_for(move: tuple[int, int]) -> int:
    return VehicleOrderType.DRIVER if move == (2, 4) else VehicleOrderType.PLAN


def _order_in(user: Any, state: int, order_type: int) -> VehicleOrder:
    order = make_order(user, order_type)
    now = timezone.now()
    VehicleOrder.objects.filter(pk=order.pk).update(
        state_code=state,
        state=VehicleOrderState(state).label,
        start_at=now - timedelta(days=10) if state >= 3 else None,
        stop_at=now + timedelta(days=355) if state >= 3 else None,
    )
    order.refresh_from_db()
    return order


@pytest.mark.django_db
@pytest.mark.parametrize("from_state", STATES)
@pytest.mark.parametrize("to_state", STATES)
def test_every_move_of_the_9x9_matrix(user: Any, from_state: int, to_state: int) -> None:
    fund(user, "10000")
    order = _order_in(user, from_state, _type_for((from_state, to_state)))
    events_before = VehicleOrderEvent.objects.filter(order=order).count()
    ledger_before = LedgerEntry.objects.filter(account_id=order.account_id).count()

    if (from_state, to_state) in ALLOWED:
        moved = vehicle_order_transition(
            order_id=order.order_id, to_state=to_state, actor=user, data={"t": 1}
        )
        order.refresh_from_db()
        assert moved.state_code == order.state_code == to_state
        assert order.state == VehicleOrderState(to_state).label
        last = VehicleOrderEvent.objects.filter(order=order).order_by("-id").first()
        assert last is not None
        assert (last.from_state, last.to_state, last.actor_id) == (from_state, to_state, user.pk)
        assert last.data["t"] == 1
        assert VehicleOrderEvent.objects.filter(order=order).count() == events_before + 1
    else:
        with pytest.raises(VehicleOrderStateError) as info:
            vehicle_order_transition(order_id=order.order_id, to_state=to_state, actor=user, data={})
        err = info.value
        assert err.code_for("vehicle") == ErrorCode.VEHICLE_ORDER_STATE
        assert err.http_status == 409
        assert f"is {VehicleOrderState(from_state).label} ({from_state})" in err.message
        assert err.data["state_code"] == from_state
        order.refresh_from_db()
        assert order.state_code == from_state
        assert VehicleOrderEvent.objects.filter(order=order).count() == events_before
        assert LedgerEntry.objects.filter(account_id=order.account_id).count() == ledger_before
    assert_balance_matches_ledger(order.account_id)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("order_type", "to_state"),
    [
        (VehicleOrderType.DRIVER, VehicleOrderState.UNDERWRITTEN),
        (VehicleOrderType.SALE, VehicleOrderState.UNDERWRITTEN),
        (VehicleOrderType.PLAN, VehicleOrderState.IN_FORCE),
    ],
)
def test_type_restricted_moves(user: Any, order_type: int, to_state: int) -> None:
    order = _order_in(user, VehicleOrderState.PAID, order_type)
    with pytest.raises(VehicleOrderStateError) as info:
        vehicle_order_transition(order_id=order.order_id, to_state=to_state, actor=user, data={})
    assert "is paid (2)" in info.value.message
    order.refresh_from_db()
    assert order.state_code == VehicleOrderState.PAID


@pytest.mark.django_db
def test_sale_order_takes_effect_from_paid(user: Any) -> None:
    order = _order_in(user, VehicleOrderState.PAID, VehicleOrderType.SALE)
    VehicleOrder.objects.filter(pk=order.pk).update(start_at=None, stop_at=None)
    moved = vehicle_order_transition(order_id=order.order_id, to_state=VehicleOrderState.IN_FORCE, actor=None)
    assert moved.state_code == VehicleOrderState.IN_FORCE
    assert moved.start_at is not None and moved.stop_at is not None
    assert (moved.stop_at - moved.start_at).days in (365, 366)


@pytest.mark.django_db
def test_events_are_never_edited(user: Any) -> None:
    order = make_order(user, VehicleOrderType.DRIVER)
    event = VehicleOrderEvent.objects.get(order=order)
    event.data = {"changed": True}
    with pytest.raises(ValueError, match="never edited"):
        event.save()
    assert Decimal(order.summary) == Decimal("200.00")
