"""Beat entries of this app (collected by config.schedule)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    # Every PLAN_SYNC_HOURS (default 3); the task skips with a log line when PLAN_SERVICE_URL is empty.
    "plans.sync_plans": {
        "task": "plans.sync_plans",
        "schedule": timedelta(hours=max(1, int(settings.PLAN_SYNC_HOURS))),
    },
}
