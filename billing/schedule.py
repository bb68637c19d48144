"""Periodic jobs of this app (collected by orders.jobs; see config/jobs.py)."""

from typing import Any

from celery.schedules import crontab
from django.conf import settings

from billing.alerts.tasks import evaluate_balance_alerts
from billing.statements.tasks import issue_statements, statements_sweep
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
    # Daily, 01:30 local: on the 1st it issues the month just closed; later runs find nothing
    # pending (they repair a run that died). Not time-travelled by run_billing: issuing fans out to
    # worker tasks and renders PDFs; `manage.py issue_statements --period` is its by-hand form.
    PeriodicJob(
        kind="statements",
        beat_name="billing.issue_statements",
        task=issue_statements,
        schedule=crontab(minute=30, hour=1),
        about="issue the statements of the month just closed (docs/statements.md)",
        time_travel=False,
        unit="slices pending",
    ),
    PeriodicJob(
        kind="statements_sweep",
        beat_name="billing.statements_sweep",
        task=statements_sweep,
        schedule=crontab(minute=10, hour=3),
        about="credit notes and statement PDFs a lost task left undone",
        time_travel=False,
    ),
    # Every BALANCE_ALERTS_EVERY_SECONDS (default 600): balance_low / runway_low notifications once
    # per crossing (docs/notifications.md). Not time-travelled by default: it sends notifications;
    # `run_billing --only balance_alerts --at T` evaluates at T.
    PeriodicJob(
        kind="balance_alerts",
        beat_name="billing.evaluate_balance_alerts",
        task=evaluate_balance_alerts,
        schedule=float(settings.BALANCE_ALERTS_EVERY_SECONDS),
        about="balance and runway alerts: notify each crossing once, re-arm the recovered",
        time_travel=False,
        takes_chunk_size=True,
    ),
)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = beat_entries(JOBS)
