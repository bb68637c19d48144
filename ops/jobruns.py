"""Timing of periodic jobs as a worker runs them: one ``JobRun`` row per execution.

Celery's ``task_prerun``/``task_postrun`` signals bracket every task a worker executes; only the
tasks of the periodic job list (the one beat sends) are recorded, and only real executions: an
eager call in a test or ``run_billing`` calling a job's body directly is not a worker run (and a
``--dry-run`` must write nothing). Recording never fails the job: a row that cannot be written is
logged as an error.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from functools import cache
from typing import Any

from celery.signals import task_postrun, task_prerun
from django.utils import timezone

logger = logging.getLogger("tally.ops")

_started: dict[str, tuple[datetime, float]] = {}
_started_lock = threading.Lock()


@cache
def job_task_names() -> frozenset[str]:
    """Task names of the periodic jobs, except the heartbeat (it has its own row)."""
    from config.schedule import beat_schedule
    from ops.tasks import HEARTBEAT_TASK

    return frozenset(entry["task"] for entry in beat_schedule().values()) - {HEARTBEAT_TASK}


def is_worker_run(task: Any) -> bool:
    """A job task run by a worker (not called eagerly in-process, as run_billing and tests do)."""
    return not getattr(task.request, "is_eager", False) and task.name in job_task_names()


def job_started(sender: Any = None, task_id: str = "", task: Any = None, **_: object) -> None:
    if task is None or not is_worker_run(task):
        return
    with _started_lock:
        _started[task_id] = (timezone.now(), time.perf_counter())


def job_finished(
    sender: Any = None, task_id: str = "", task: Any = None, state: str | None = None, **_: object
) -> None:
    with _started_lock:
        started = _started.pop(task_id, None)
    if task is None or started is None:
        return
    from ops.services import job_run_record

    started_at, clock = started
    try:
        job_run_record(
            task_id=task_id,
            job=task.name,
            hostname=str(getattr(task.request, "hostname", "") or ""),
            started_at=started_at,
            seconds=time.perf_counter() - clock,
            state=state or "",
        )
    except Exception:  # noqa: BLE001 - the job itself is done; losing its timing must not fail it
        logger.exception("could not record the run of %s (task %s)", task.name, task_id)


def connect_job_timing() -> None:
    task_prerun.connect(job_started, weak=False, dispatch_uid="ops.job_started")
    task_postrun.connect(job_finished, weak=False, dispatch_uid="ops.job_finished")
