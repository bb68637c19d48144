"""Beat entries of this app (collected by config.schedule)."""

from typing import Any

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "billing.purge_idempotency_keys": {
        "task": "billing.purge_idempotency_keys",
        "schedule": crontab(minute=17),
    },
}
