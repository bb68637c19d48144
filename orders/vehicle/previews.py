"""Previews (``drytry=1``) of vehicle orders: the charge or refund a move would make and the state it
moves to, read without locks and with nothing written (see ``orders/purchase/previews.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.utils import timezone

from billing.promotions import promotion_redeemable
from config.money import money4, to_money
from orders.vehicle.errors import VehicleOrderNotFound
from orders.vehicle.models import VehicleOrder, VehicleOrderDiscount, VehicleOrderState
from orders.vehicle.transitions import cancel_refund, cancel_target, move_for


def _vehicle_order(order_id: uuid.UUID | str) -> VehicleOrder:
    try:
        key = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found") from exc
    order = VehicleOrder.objects.filter(order_id=key).first()
    if order is None:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found")
    return order


def _vehicle_answer(order: VehicleOrder, to_state: int, charge: Any, refund: Any) -> dict[str, Any]:
    return {
        "drytry": True,
        "order_id": str(order.order_id),
        "order_no": order.order_no,
        "state_code": order.state_code,
        "to_state_code": to_state,
        "to_state": VehicleOrderState(to_state).label,
        "charge": money4(to_money(charge)),
        "refund": money4(to_money(refund)),
    }


def vehicle_pay_preview(*, order_id: uuid.UUID | str) -> dict[str, Any]:
    """``POST /api/v1/orders/{id}/pay``: the charge is the order's ``payment``."""
    order = _vehicle_order(order_id)
    move_for(order, VehicleOrderState.PAID)
    answer = _vehicle_answer(order, VehicleOrderState.PAID, order.payment, 0)
    line = VehicleOrderDiscount.objects.filter(order_id=order.pk).select_related("promotion").first()
    if line is not None:  # what the payment redeems (checked again, under the lock, by the payment)
        promotion_redeemable(account_id=order.account_id, promotion=line.promotion, field="pmid")
        answer.update(promotion=line.code, discount=money4(line.amount))
    return answer


def vehicle_cancel_preview(*, order_id: uuid.UUID | str, now: datetime | None = None) -> dict[str, Any]:
    """``POST /api/v1/orders/{id}/cancel``: the refund by the order's rule (full, or the unused whole
    local days once in force) and the state the cancel moves to."""
    order = _vehicle_order(order_id)
    target = cancel_target(order.state_code)
    move_for(order, target)
    info = cancel_refund(order, now or timezone.now())
    answer = _vehicle_answer(order, target, 0, info["refund"])
    answer.update({k: v for k, v in info.items() if k != "refund"})
    return answer
