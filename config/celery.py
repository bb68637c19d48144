"""The Celery app. Periodic work comes from the one list of jobs, ``orders.jobs.JOBS``.

Beat's scheduler (``config.beat.TallyScheduler``) writes that list into django-celery-beat's tables
every time beat starts, so the schedule lives in code (reviewed, versioned) and stays visible and
pausable in the admin.
"""

from __future__ import annotations

import logging
import os

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tally")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _connect_request_ids() -> None:
    """The request id of the HTTP request that sent a task is on the task's log lines
    (config/logs.py)."""
    from config.logs import add_request_id_header, enter_task_context, leave_task_context

    before_task_publish.connect(add_request_id_header, weak=False)
    task_prerun.connect(enter_task_context, weak=False)
    task_postrun.connect(leave_task_context, weak=False)


_connect_request_ids()


@worker_init.connect(weak=False)
def _freeze_startup_objects(**_: object) -> None:
    """A worker freezes what it loaded, as a web process does (``config.startup``). ``worker_init``
    comes after the task modules are imported and before the prefork pool forks: its children
    inherit the frozen objects (and share their pages, which a collection would otherwise touch);
    the solo pool runs tasks in this process."""
    from config.startup import freeze_startup_objects

    frozen = freeze_startup_objects()
    logging.getLogger("tally.startup").info("froze %d startup objects", frozen)
