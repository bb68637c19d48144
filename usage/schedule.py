"""Periodic jobs of this app (collected by orders.services.jobs; see config/jobs.py)."""

from typing import Any

from config.jobs import PeriodicJob, beat_entries
from usage.tasks import settle_arrears_sweep

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="arrears",
        beat_name="usage.settle_arrears_sweep",
        task=settle_arrears_sweep,
        schedule=180.0,  # repairs a lost usage.settle_arrears message within minutes (issue 15)
        about="settle arrears of accounts that can pay their oldest debt",
        options={"expires": 170},
    ),
)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = beat_entries(JOBS)
