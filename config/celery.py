"""The Celery app. Periodic work comes from each app's ``schedule.BEAT_SCHEDULE``.

django-celery-beat's DatabaseScheduler copies ``beat_schedule`` into its tables at start-up, so the
schedule lives in code (reviewed, versioned) and stays visible and pausable in the admin.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tally")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _load_beat_schedule(sender: Celery, **_: object) -> None:
    from config.schedule import beat_schedule

    sender.conf.beat_schedule = beat_schedule()
