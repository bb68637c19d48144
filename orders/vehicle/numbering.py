"""Vehicle order numbers: ``V<yyyymmdd>-<n>`` from one counter row per local day."""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F

from orders.vehicle.models import VehicleOrderNoCounter


def order_counter_ensure(day: date) -> None:
    """Create the day's counter row in its own short transaction when we can, so concurrent
    first-of-day placements never wait on each other's inserts inside the placement transaction."""
    if transaction.get_connection().in_atomic_block:
        return
    try:
        VehicleOrderNoCounter.objects.get_or_create(day=day)
    except IntegrityError:
        pass  # created concurrently


def allocate_order_no(*, day: date) -> str:
    """``V<yyyymmdd>-<n>``: ``UPDATE ... SET last = last + 1`` takes the day row's lock until the
    caller's transaction ends, then we read our own value. Must run inside ``transaction.atomic``."""
    counters = VehicleOrderNoCounter.objects.filter(day=day)
    if not counters.update(last=F("last") + 1):
        try:
            with transaction.atomic():
                VehicleOrderNoCounter.objects.create(day=day, last=1)
        except IntegrityError:
            counters.update(last=F("last") + 1)
    last = counters.select_for_update().values_list("last", flat=True).get()
    return f"V{day:%Y%m%d}-{last:06d}"
