"""Beat entries of this app (collected by config.schedule)."""

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Repairs a lost usage.settle_arrears message within minutes (issue 15).
    "usage.settle_arrears_sweep": {
        "task": "usage.settle_arrears_sweep",
        "schedule": 180.0,
        "options": {"expires": 170},
    },
}
