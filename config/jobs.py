"""A periodic job: one beat entry AND what ``manage.py run_billing --at T`` runs for it.

Each app's ``schedule.py`` lists its jobs (``JOBS``); ``orders.jobs.JOBS`` is the one list
of all of them. Beat's schedule is built from that list (``config.schedule``) and run_billing runs
from it, so a job cannot be in one and missing from the other.

``run`` calls the task's own body in this process (``task(at=...)``), the code a worker runs for
beat's message, only at a given moment instead of now.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from celery import Task
from celery.schedules import crontab

Schedule: TypeAlias = float | timedelta | crontab


@dataclass(frozen=True)
class PeriodicJob:
    kind: str  # the name ``run_billing --only`` takes
    beat_name: str  # the beat entry (and django-celery-beat row) name
    task: Task
    schedule: Schedule
    about: str  # one line: what it does
    # Run by ``run_billing`` unless ``--only`` names others: the jobs that move money or state.
    # Housekeeping (purging stored responses, pulling the catalog, the nightly audit) is not.
    time_travel: bool = True
    takes_at: bool = True  # the task accepts ``at`` (ISO 8601) as "now"
    takes_chunk_size: bool = False
    unit: str = ""  # what a task's plain-number result counts ("quota rows created")
    options: Mapping[str, Any] = field(default_factory=dict)

    @property
    def task_name(self) -> str:
        return str(self.task.name)

    def beat_entry(self) -> dict[str, Any]:
        return {"task": self.task_name, "schedule": self.schedule, "options": dict(self.options)}

    def run(self, *, at: datetime, chunk_size: int | None = None) -> Any:
        """The task's body, here and now, for the moment ``at``."""
        kwargs: dict[str, Any] = {}
        if self.takes_at:
            kwargs["at"] = at.isoformat()
        if self.takes_chunk_size and chunk_size is not None:
            kwargs["chunk_size"] = chunk_size
        return self.task(**kwargs)


def beat_entries(jobs: tuple[PeriodicJob, ...]) -> dict[str, dict[str, Any]]:
    return {job.beat_name: job.beat_entry() for job in jobs}
