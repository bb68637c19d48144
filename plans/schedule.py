"""Periodic jobs of this app (collected by orders.jobs; see config/jobs.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings

from config.jobs import PeriodicJob, beat_entries
from plans.tasks import sync_plans_task

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="plan_sync",
        beat_name="plans.sync_plans",
        task=sync_plans_task,
        # Every PLAN_SYNC_HOURS (default 3); the task skips with a log line when PLAN_SERVICE_URL is empty.
        schedule=timedelta(hours=max(1, int(settings.PLAN_SYNC_HOURS))),
        about="pull the catalog from PLAN_SERVICE_URL",
        time_travel=False,
        takes_at=False,
    ),
)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = beat_entries(JOBS)
