"""Periodic jobs of this app (collected by orders.jobs; see config/jobs.py)."""

from typing import Any

from celery.schedules import crontab

from config.jobs import PeriodicJob, beat_entries
from usage.tasks import audit_ledger, settle_arrears_sweep

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="arrears",
        beat_name="usage.settle_arrears_sweep",
        task=settle_arrears_sweep,
        schedule=180.0,  # repairs a lost usage.settle_arrears message within minutes (issue 15)
        about="settle arrears of accounts that can pay their oldest debt",
        options={"expires": 170},
    ),
    PeriodicJob(
        kind="ledger_audit",
        beat_name="usage.audit_ledger",
        task=audit_ledger,
        schedule=crontab(minute=30, hour=3),  # nightly, 03:30 in TALLY_TIME_ZONE
        about="check that the money adds up and record the result (AuditRun)",
        time_travel=False,
    ),
)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = beat_entries(JOBS)
