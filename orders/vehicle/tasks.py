"""Celery tasks for vehicle orders: thin wrappers over one service each, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from config.clock import parse_moment


@shared_task(name="orders.vehicle_lifecycle", acks_late=True, ignore_result=True)
def vehicle_lifecycle(at: str | None = None, chunk_size: int | None = None) -> dict[str, int]:
    """Take effect (2->4 driver/sale, 3->4 at start) and expire (4->5 at stop). A second run finds
    the moved rows in their new state and does nothing."""
    from orders.vehicle.services import vehicle_orders_advance

    return vehicle_orders_advance(now=parse_moment(at), chunk_size=chunk_size or settings.BILLING_CHUNK_SIZE)
