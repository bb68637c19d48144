"""Writes of the ops app: heartbeats and job runs (both idempotent by a unique key)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from ops.models import JobOutcome, JobRun, WorkerHeartbeat

_OUTCOMES = {"SUCCESS": JobOutcome.SUCCESS, "RETRY": JobOutcome.RETRY}


def heartbeat_record(*, hostname: str, at: datetime | None = None) -> WorkerHeartbeat:
    """The worker on ``hostname`` answered now; job runs past their retention are purged."""
    now = at or timezone.now()
    beat, _ = WorkerHeartbeat.objects.update_or_create(hostname=hostname[:255], defaults={"answered_at": now})
    JobRun.objects.filter(
        finished_at__lt=now - timedelta(days=settings.TALLY_JOB_RUN_RETENTION_DAYS)
    ).delete()
    return beat


def job_run_record(
    *, task_id: str, job: str, hostname: str, started_at: datetime, seconds: float, state: str
) -> JobRun:
    """One execution of a periodic job. Celery's state ``SUCCESS``/``RETRY``, anything else is a
    failure. A redelivered message (same task id) updates its row instead of adding one."""
    run, _ = JobRun.objects.update_or_create(
        task_id=task_id[:255],
        defaults={
            "job": job[:200],
            "hostname": hostname[:255],
            "started_at": started_at,
            "finished_at": timezone.now(),
            "seconds": seconds,
            "outcome": _OUTCOMES.get(state, JobOutcome.FAILURE),
        },
    )
    return run
