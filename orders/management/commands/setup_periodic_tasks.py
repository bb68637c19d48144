"""Create or update the django-celery-beat rows from ``config.schedule.beat_schedule()``; idempotent.

The code is the source of truth for periodic jobs; the database scheduler only mirrors it, so no one
creates a beat entry by hand. Rows this command manages carry a marker in their description; a
managed row whose entry left the code is disabled (not deleted, so its history stays visible).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from celery.schedules import crontab
from celery.schedules import schedule as interval_schedule
from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from config.commands import TallyCommand
from config.schedule import beat_schedule

MANAGED = "managed by setup_periodic_tasks (config.schedule)"


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
        raise CommandError(f"interval must be positive, got {every}")
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
        raise CommandError(f"{name}: unsupported schedule type {type(raw).__name__}")
    return fields


class Command(TallyCommand):
    help = "Create/update django-celery-beat periodic tasks from config.schedule (idempotent)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="show what would change, write nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        entries = beat_schedule()
        with transaction.atomic():
            created = updated = unchanged = 0
            for name, entry in sorted(entries.items()):
                fields = _schedule_fields(name, entry["schedule"])
                fields.update(
                    task=entry["task"],
                    args=json.dumps(list(entry.get("args", ()))),
                    kwargs=json.dumps(dict(entry.get("kwargs", {})), sort_keys=True),
                    queue=(entry.get("options") or {}).get("queue"),
                    enabled=True,
                    description=MANAGED,
                )
                task = PeriodicTask.objects.filter(name=name).first()
                if task is None:
                    PeriodicTask.objects.create(name=name, **fields)
                    created += 1
                    self.say(f"created {name}")
                    continue
                changed = [key for key, value in fields.items() if getattr(task, key) != value]
                if not changed:
                    unchanged += 1
                    continue
                for key in changed:
                    setattr(task, key, fields[key])
                task.save()
                updated += 1
                self.say(f"updated {name}: {', '.join(changed)}")
            stale = PeriodicTask.objects.filter(description=MANAGED, enabled=True).exclude(
                name__in=list(entries)
            )
            disabled = 0
            for task in stale:
                task.enabled = False
                task.save()
                disabled += 1
                self.say(f"disabled {task.name} (no longer in config.schedule)")
            if options["dry_run"]:
                transaction.set_rollback(True)
        prefix = "would have: " if options["dry_run"] else ""
        self.say(
            self.style.SUCCESS(
                f"{prefix}{created} created, {updated} updated, {unchanged} unchanged, {disabled} disabled"
            )
        )
