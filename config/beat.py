"""Beat's rows come from the code: ``sync_beat_rows`` writes django-celery-beat's tables from
``config.schedule.beat_schedule()`` (the one list of periodic jobs), and ``TallyScheduler`` runs it
every time beat starts, so a beat started by ``make run`` or by a deployment that skipped
``manage.py setup_periodic_tasks`` still sends every job.

Why a scheduler and not a signal: django-celery-beat's ``DatabaseScheduler`` reads
``app.conf.beat_schedule`` once, when beat creates it, and beat creates it before it sends
``beat_init``; a schedule put into the configuration from that signal is never read.

Rows written here carry ``MANAGED`` in their description; a managed row whose job left the code is
disabled (not deleted, so its history stays visible in the admin).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery.schedules import crontab
from celery.schedules import schedule as interval_schedule
from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.exceptions import InvalidInput

logger = logging.getLogger("tally.beat")

MANAGED = "managed by setup_periodic_tasks (config.schedule)"


@dataclass
class BeatSync:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    disabled: int = 0
    changes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        counts = ((self.created, "created"), (self.updated, "updated"), (self.unchanged, "unchanged"))
        return ", ".join(f"{n} {what}" for n, what in (*counts, (self.disabled, "disabled")))


def _crontab_row(entry: crontab) -> CrontabSchedule:
    row, _ = CrontabSchedule.objects.get_or_create(
        minute=str(entry._orig_minute),
        hour=str(entry._orig_hour),
        day_of_week=str(entry._orig_day_of_week),
        day_of_month=str(entry._orig_day_of_month),
        month_of_year=str(entry._orig_month_of_year),
        timezone=str(getattr(entry, "tz", None) or settings.CELERY_TIMEZONE),
    )
    return row


def _interval_row(every: timedelta) -> IntervalSchedule:
    seconds = int(every.total_seconds())
    if seconds <= 0:
        raise InvalidInput(f"interval must be positive, got {every}")
    row, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
    return row


def _schedule_fields(name: str, raw: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"crontab": None, "interval": None, "solar": None, "clocked": None}
    if isinstance(raw, crontab):
        fields["crontab"] = _crontab_row(raw)
    elif isinstance(raw, interval_schedule):
        fields["interval"] = _interval_row(raw.run_every)
    elif isinstance(raw, timedelta):
        fields["interval"] = _interval_row(raw)
    elif isinstance(raw, int | float):
        fields["interval"] = _interval_row(timedelta(seconds=raw))
    else:
        raise InvalidInput(f"{name}: unsupported schedule type {type(raw).__name__}")
    return fields


def _row_fields(name: str, entry: dict[str, Any]) -> dict[str, Any]:
    options = entry.get("options") or {}
    expires = options.get("expires")
    fields = _schedule_fields(name, entry["schedule"])
    fields.update(
        task=entry["task"],
        args=json.dumps(list(entry.get("args", ()))),
        kwargs=json.dumps(dict(entry.get("kwargs", {})), sort_keys=True),
        queue=options.get("queue"),
        # a message nobody ran in time is dropped, not piled up behind a backlog (the job's own
        # ``expires``; django-celery-beat keeps it as seconds)
        expire_seconds=max(1, int(expires)) if expires is not None else None,
        enabled=True,
        description=MANAGED,
    )
    return fields


def sync_beat_rows(entries: dict[str, dict[str, Any]], *, dry_run: bool = False) -> BeatSync:
    """Create, update or disable rows so that the enabled managed rows are exactly ``entries``."""
    result = BeatSync()
    with transaction.atomic():
        for name, entry in sorted(entries.items()):
            fields = _row_fields(name, entry)
            task = PeriodicTask.objects.filter(name=name).first()
            if task is None:
                PeriodicTask.objects.create(name=name, **fields)
                result.created += 1
                result.changes.append(f"created {name}")
                continue
            changed = [key for key, value in fields.items() if getattr(task, key) != value]
            if not changed:
                result.unchanged += 1
                continue
            for key in changed:
                setattr(task, key, fields[key])
            task.save()
            result.updated += 1
            result.changes.append(f"updated {name}: {', '.join(changed)}")
        stale = PeriodicTask.objects.filter(description=MANAGED, enabled=True).exclude(name__in=list(entries))
        for task in stale:
            task.enabled = False
            task.save()
            result.disabled += 1
            result.changes.append(f"disabled {task.name} (no longer in config.schedule)")
        if dry_run:
            transaction.set_rollback(True)
    return result


class TallyScheduler(DatabaseScheduler):
    """django-celery-beat's database scheduler, with the rows written from the code first."""

    def setup_schedule(self) -> None:
        from config.schedule import beat_schedule

        result = sync_beat_rows(beat_schedule())
        logger.info("beat schedule from config.schedule: %s", result.summary())
        super().setup_schedule()
