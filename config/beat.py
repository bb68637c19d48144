"""Beat's scheduler: django-celery-beat's ``DatabaseScheduler`` with Tally's schedule loaded as it
is built.

The schedule (``config.schedule.beat_schedule``, from the one list of jobs) was once loaded in a
``beat_init`` handler. Celery's ``beat.Service.start`` builds the scheduler (its "Ticking with max
interval" debug line reads ``self.scheduler``) *before* it sends ``beat_init``, and
``DatabaseScheduler.setup_schedule`` copies ``beat_schedule`` into its tables only then: so under
``make run`` beat scheduled nothing but Celery's own cleanup (only a deployment that had run
``setup_periodic_tasks`` had rows). Loading it here, where the scheduler reads it, is the moment
that cannot be missed; it still happens in beat only, after the task modules are imported.
"""

from __future__ import annotations

from django_celery_beat.schedulers import DatabaseScheduler


class TallyScheduler(DatabaseScheduler):
    def setup_schedule(self) -> None:
        from config.celery import load_beat_schedule

        load_beat_schedule(self)
        super().setup_schedule()
