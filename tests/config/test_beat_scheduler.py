"""Beat's scheduler writes every job of the one list into django-celery-beat's tables as it is
built: beat started the way ``make run`` starts it (no ``setup_periodic_tasks``) schedules them."""

from __future__ import annotations

import pytest
from django.conf import settings
from django_celery_beat.models import PeriodicTask

from config.beat import TallyScheduler
from config.celery import app as celery_app
from orders.services.jobs import JOBS

pytestmark = pytest.mark.django_db


def test_the_scheduler_beat_builds_holds_every_job():
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat:TallyScheduler"
    saved = dict(celery_app.conf.beat_schedule or {})
    try:
        celery_app.conf.beat_schedule = {}  # as in a fresh beat process
        scheduler = TallyScheduler(app=celery_app, lazy=False)
        assert {job.beat_name for job in JOBS} <= set(scheduler.schedule)
        rows = dict(PeriodicTask.objects.values_list("name", "task"))
        assert all(rows[job.beat_name] == job.task_name for job in JOBS)
    finally:
        celery_app.conf.beat_schedule = saved
