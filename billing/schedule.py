"""Beat entries of this app (collected by config.schedule)."""

from typing import Any

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "billing.purge_idempotency_keys": {
        "task": "billing.purge_idempotency_keys",
        "schedule": crontab(minute=17),
    },
    # 00:00 on the 1st in TALLY_TIME_ZONE (the Celery app's timezone is TALLY_TIME_ZONE).
    "billing.open_quota_month": {
        "task": "billing.open_quota_month",
        "schedule": crontab(minute=0, hour=0, day_of_month=1),
    },
}
