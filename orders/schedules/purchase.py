"""Beat entries of purchase orders."""

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "orders.run_renewals": {
        "task": "orders.run_renewals",
        "schedule": 300.0,  # every 5 minutes (DOMAIN.md 5)
        "options": {"expires": 290},
    },
}
