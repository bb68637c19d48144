"""Beat's scheduler writes every job of the one list into django-celery-beat's tables as it is
built: beat started the way ``make run`` starts it (no ``setup_periodic_tasks``) schedules them."""

from __future__ import annotations

import pytest
from celery.schedules import crontab
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from config.beat import MANAGED, TallyScheduler
from config.celery import app as celery_app
from orders.jobs import JOBS

pytestmark = pytest.mark.django_db(transaction=True)  # as beat runs: autocommit, its own error handling


def test_the_scheduler_beat_builds_holds_every_job():
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat:TallyScheduler"
    assert not PeriodicTask.objects.filter(description=MANAGED).exists()  # a fresh database
    scheduler = TallyScheduler(app=celery_app, lazy=False)  # what beat builds when it starts
    rows = dict(PeriodicTask.objects.filter(enabled=True).values_list("name", "task"))
    assert all(rows[job.beat_name] == job.task_name for job in JOBS)
    # beat holds the interval jobs now; django-celery-beat loads a crontab job's row only in the
    # hours around its own, so those are checked as rows above
    every = {job.beat_name for job in JOBS if not isinstance(job.schedule, crontab)}
    assert every and every <= set(scheduler.schedule)


def test_a_second_start_changes_nothing_and_keeps_expiry():
    TallyScheduler(app=celery_app, lazy=False)
    before = {row.name: row.last_run_at for row in PeriodicTask.objects.all()}
    TallyScheduler(app=celery_app, lazy=False)
    assert {row.name: row.last_run_at for row in PeriodicTask.objects.all()} == before
    sweep = PeriodicTask.objects.get(name="usage.settle_arrears_sweep")
    assert sweep.expire_seconds == 170  # the job's own ``expires`` option reaches beat


def test_the_alert_evaluator_runs_every_balance_alerts_every_seconds():
    TallyScheduler(app=celery_app, lazy=False)
    alerts = PeriodicTask.objects.select_related("interval").get(name="billing.evaluate_balance_alerts")
    assert alerts.interval is not None and alerts.interval.every == settings.BALANCE_ALERTS_EVERY_SECONDS
