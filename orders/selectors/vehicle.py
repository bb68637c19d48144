"""Reads of vehicle orders: the caller's list (index-backed, deferred join) and one order with its
items and events. A user sees only the orders they own; staff see every order."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from orders.models.vehicle import VehicleOrder, VehicleOrderEvent
from orders.services.vehicle import VehicleOrderNotFound

__all__ = ["vehicle_order_events", "vehicle_order_get", "vehicle_order_list", "vehicle_orders_visible"]


def vehicle_orders_visible(*, user: Any) -> QuerySet[VehicleOrder]:
    qs = VehicleOrder.objects.all()
    if not user.is_staff:
        qs = qs.filter(owner_id=user.pk)
    return qs


def vehicle_order_list_queryset(
    *,
    user: Any,
    type: int | None = None,
    state_code: int | None = None,
    vid: uuid.UUID | None = None,  # noqa: A002
) -> QuerySet[VehicleOrder]:
    """The filtered list, newest updated first; served by ``veh_ord_owner_*_upd`` indexes."""
    qs = vehicle_orders_visible(user=user)
    if type is not None:
        qs = qs.filter(type=type)
    if state_code is not None:
        qs = qs.filter(state_code=state_code)
    if vid is not None:
        qs = qs.filter(vid=vid)
    return qs.order_by("-updated_at", "-id")


def vehicle_order_list(
    *,
    user: Any,
    offset: int,
    limit: int,
    type: int | None = None,  # noqa: A002
    state_code: int | None = None,
    vid: uuid.UUID | None = None,
) -> tuple[int, list[VehicleOrder]]:
    """``(total, page)``. The page is found on the index alone (ids only), then its rows are read by
    primary key, so a deep offset walks index entries instead of whole rows (B5)."""
    qs = vehicle_order_list_queryset(user=user, type=type, state_code=state_code, vid=vid)
    total = qs.count()
    ids = list(qs.values_list("id", flat=True)[offset : offset + limit])
    rows = VehicleOrder.objects.select_related("owner", "account", "plan").in_bulk(ids)
    return total, [rows[i] for i in ids if i in rows]


def vehicle_order_get(*, user: Any, order_id: Any) -> VehicleOrder:
    try:
        key = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise VehicleOrderNotFound("vehicle order not found") from exc
    order = (
        vehicle_orders_visible(user=user)
        .select_related("owner", "account", "plan")
        .prefetch_related("items__plan")
        .filter(order_id=key)
        .first()
    )
    if order is None:
        raise VehicleOrderNotFound("vehicle order not found")
    return order


def vehicle_order_events(*, user: Any, order_id: Any) -> list[VehicleOrderEvent]:
    order = vehicle_order_get(user=user, order_id=order_id)
    return list(order.events.select_related("actor").order_by("occurred_at", "id"))
