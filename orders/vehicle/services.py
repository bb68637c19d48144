"""Vehicle orders (DOMAIN.md 7): the named actions (pay, cancel, underwrite) the API, the admin and
beat call, and the lifecycle beat. Each is one call of ``transitions.vehicle_order_transition``;
placing is in ``placing.py``, the per-owner counts in ``counts.py``.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from config.exceptions import InvalidInput, InvalidTransition
from orders.vehicle.errors import VehicleOrderNotFound
from orders.vehicle.models import (
    VehicleOrder,
    VehicleOrderState,
    VehicleOrderType,
)
from orders.vehicle.transitions import (
    cancel_target,
    order_lookup_filter,
    transition_refused,
    vehicle_order_transition,
)

logger = logging.getLogger("tally.orders.vehicle")


UNDERWRITE_RESULTS = ("approved", "rejected")


# --------------------------------------------------------------------------------------------------
# The named actions (what the API, admin and beat call)
# --------------------------------------------------------------------------------------------------


def vehicle_order_pay(*, order_id: uuid.UUID | str | int, actor: Any) -> VehicleOrder:
    """Charge ``payment`` to the owner's wallet and mark the order paid (1 -> 2)."""
    return vehicle_order_transition(order_id=order_id, to_state=VehicleOrderState.PAID, actor=actor, data={})


def vehicle_order_cancel(
    *, order_id: uuid.UUID | str | int, actor: Any, reason: str = "", now: datetime | None = None
) -> VehicleOrder:
    """Cancel from whatever state the order is in (the target follows from it), refunding per the rule."""
    lookup = order_lookup_filter(order_id)
    current = VehicleOrder.objects.filter(**lookup).values_list("state_code", flat=True).first()
    if current is None:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found")
    target = cancel_target(current)
    data = {"reason": reason} if reason else {}
    return vehicle_order_transition(order_id=order_id, to_state=target, actor=actor, data=data, now=now)


def vehicle_order_underwrite(
    *,
    order_id: uuid.UUID | str | int,
    actor: Any,
    result: str,
    reason: str = "",
    now: datetime | None = None,
) -> VehicleOrder:
    """Record the underwriting ``result``: ``approved`` moves 2 -> 3 and sets start/stop;
    ``rejected`` cancels the paid order (2 -> 8) with a full refund. The event keeps ``result`` and
    the underwriter's ``reason`` (a rejection without one records "underwriting rejected")."""
    if result not in UNDERWRITE_RESULTS:
        raise InvalidInput(
            "invalid parameters: result: must be one of approved, rejected",
            errors={"result": ["must be one of approved, rejected"]},
        )
    lookup = order_lookup_filter(order_id)
    order = VehicleOrder.objects.filter(**lookup).only("state_code", "type", "order_no").first()
    if order is None:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found")
    reason = (reason or "").strip()
    if result == "approved":
        data = {"result": result, "reason": reason} if reason else {"result": result}
        return vehicle_order_transition(
            order_id=order_id, to_state=VehicleOrderState.UNDERWRITTEN, actor=actor, data=data, now=now
        )
    if order.state_code != VehicleOrderState.PAID or order.type != VehicleOrderType.PLAN:
        raise transition_refused(
            order, VehicleOrderState.CANCELED_AFTER_PAYMENT, "only paid plan orders are underwritten"
        )
    return vehicle_order_transition(
        order_id=order_id,
        to_state=VehicleOrderState.CANCELED_AFTER_PAYMENT,
        actor=actor,
        data={"result": result, "reason": reason or "underwriting rejected"},
        now=now,
    )


@dataclass(frozen=True)
class _DueMove:
    from_state: int
    to_state: int
    filters: dict[str, Any]


def vehicle_orders_advance(*, now: datetime | None = None, chunk_size: int = 200) -> dict[str, int]:
    """The lifecycle beat: paid driver/sale orders and underwritten orders whose start has come take
    effect; orders in force past their stop expire. Chunks of rows locked with SKIP LOCKED, one
    transaction per chunk, so several workers share the work and a rerun finds nothing left."""
    now = now or timezone.now()
    jobs = [
        _DueMove(
            VehicleOrderState.PAID,
            VehicleOrderState.IN_FORCE,
            {"type__in": [VehicleOrderType.DRIVER, VehicleOrderType.SALE]},
        ),
        _DueMove(VehicleOrderState.UNDERWRITTEN, VehicleOrderState.IN_FORCE, {"start_at__lte": now}),
        _DueMove(VehicleOrderState.IN_FORCE, VehicleOrderState.EXPIRED, {"stop_at__lte": now}),
    ]
    counts: dict[str, int] = {}
    for job in jobs:
        done = 0
        failed: set[int] = set()
        while True:
            with transaction.atomic():
                pks = list(
                    VehicleOrder.objects.select_for_update(skip_locked=True)
                    .filter(state_code=job.from_state, **job.filters)
                    .exclude(pk__in=failed)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:chunk_size]
                )
                for pk in pks:
                    try:
                        with transaction.atomic():
                            vehicle_order_transition(order_id=pk, to_state=job.to_state, actor=None, now=now)
                        done += 1
                    except InvalidTransition:
                        logger.warning("vehicle order %s could not move to %s", pk, job.to_state)
                        failed.add(pk)
            if len(pks) < chunk_size:
                break
        counts[f"{job.from_state}->{job.to_state}"] = done
    return counts
