"""Periodic jobs of this app (collected by orders.services.jobs; see config/jobs.py)."""

from typing import Any

from celery.schedules import crontab

from billing.tasks import open_quota_month, purge_idempotency_keys
from config.jobs import PeriodicJob, beat_entries

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="quota_month",
        beat_name="billing.open_quota_month",
        task=open_quota_month,
        # 00:00 on the 1st in TALLY_TIME_ZONE (the Celery app's timezone is TALLY_TIME_ZONE).
        schedule=crontab(minute=0, hour=0, day_of_month=1),
        about="monthly free-quota rows of the month",
        unit="quota rows created",
    ),
    PeriodicJob(
        kind="purge_idempotency_keys",
        beat_name="billing.purge_idempotency_keys",
        task=purge_idempotency_keys,
        schedule=crontab(minute=17),
        about="forget stored Idempotency-Key responses past their TTL",
        time_travel=False,
        unit="stored responses purged",
    ),
)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = beat_entries(JOBS)
