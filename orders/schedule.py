"""Beat entries of this app: one per kind of periodic job, from each order family's module."""

from typing import Any

from orders.schedules import package, purchase, vehicle

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    **purchase.BEAT_SCHEDULE,
    **package.BEAT_SCHEDULE,
    **vehicle.BEAT_SCHEDULE,
}
