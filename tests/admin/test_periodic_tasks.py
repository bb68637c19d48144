"""``manage.py setup_periodic_tasks`` mirrors config.schedule into django-celery-beat, idempotently."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from celery.schedules import crontab
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from orders.management.commands import setup_periodic_tasks as command

pytestmark = pytest.mark.django_db

SCHEDULE = {
    "tally.every_five": {"task": "tally.every_five", "schedule": timedelta(minutes=5)},
    "tally.nightly": {"task": "tally.nightly", "schedule": crontab(minute=0, hour=1), "kwargs": {"n": 1}},
    "tally.monthly": {"task": "tally.monthly", "schedule": crontab(minute=0, hour=0, day_of_month=1)},
}


def _run(monkeypatch: Any, schedule: dict[str, Any], *args: str) -> str:
    monkeypatch.setattr(command, "beat_schedule", lambda: schedule)
    out = StringIO()
    call_command("setup_periodic_tasks", *args, stdout=out)
    return out.getvalue()


def test_creates_then_changes_nothing(monkeypatch: Any, settings: Any) -> None:
    first = _run(monkeypatch, SCHEDULE)
    assert "3 created" in first
    nightly = PeriodicTask.objects.get(name="tally.nightly")
    assert nightly.crontab is not None and nightly.interval is None
    assert (nightly.crontab.minute, nightly.crontab.hour) == ("0", "1")
    assert str(nightly.crontab.timezone) == settings.CELERY_TIMEZONE
    assert json.loads(nightly.kwargs) == {"n": 1} and nightly.enabled
    five = PeriodicTask.objects.get(name="tally.every_five")
    assert (five.interval.every, five.interval.period) == (300, IntervalSchedule.SECONDS)
    counts = (PeriodicTask.objects.count(), CrontabSchedule.objects.count(), IntervalSchedule.objects.count())

    second = _run(monkeypatch, SCHEDULE)
    assert "0 created, 0 updated, 3 unchanged, 0 disabled" in second
    assert (
        PeriodicTask.objects.count(),
        CrontabSchedule.objects.count(),
        IntervalSchedule.objects.count(),
    ) == counts


def test_updates_changed_entries_and_disables_removed_ones(monkeypatch: Any) -> None:
    _run(monkeypatch, SCHEDULE)
    PeriodicTask.objects.create(name="hand-made", task="x", interval=IntervalSchedule.objects.first())
    changed = dict(SCHEDULE)
    changed["tally.nightly"] = {"task": "tally.nightly", "schedule": crontab(minute=30, hour=2)}
    del changed["tally.monthly"]
    out = _run(monkeypatch, changed)
    assert "1 updated" in out and "1 disabled" in out
    nightly = PeriodicTask.objects.get(name="tally.nightly")
    assert (nightly.crontab.minute, nightly.crontab.hour, json.loads(nightly.kwargs)) == ("30", "2", {})
    assert not PeriodicTask.objects.get(name="tally.monthly").enabled
    assert PeriodicTask.objects.get(name="hand-made").enabled  # not ours: left alone


def test_dry_run_writes_nothing(monkeypatch: Any) -> None:
    out = _run(monkeypatch, SCHEDULE, "--dry-run")
    assert "would have: 3 created" in out
    assert not PeriodicTask.objects.exists()


def test_the_project_schedule_loads() -> None:
    call_command("setup_periodic_tasks", stdout=StringIO())
    from config.schedule import beat_schedule

    names = set(beat_schedule())
    assert names <= set(PeriodicTask.objects.values_list("name", flat=True))
    assert "billing.purge_idempotency_keys" in names
