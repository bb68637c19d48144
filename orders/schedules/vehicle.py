"""Beat entries of vehicle orders."""

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "orders.vehicle_lifecycle": {
        "task": "orders.vehicle_lifecycle",
        "schedule": 60.0,  # every minute: starts fall on local midnights or the expected start
        "options": {"expires": 55},
    },
}
