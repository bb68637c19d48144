"""Periodic jobs of this app (collected by orders.jobs; see config/jobs.py)."""

from django.conf import settings

from config.jobs import PeriodicJob
from ops.tasks import heartbeat

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="heartbeat",
        beat_name="ops.heartbeat",
        task=heartbeat,
        schedule=float(settings.TALLY_HEARTBEAT_SECONDS),
        about="a worker answers: /healthz reports how long ago (WorkerHeartbeat)",
        time_travel=False,
        takes_at=False,
        # A heartbeat nobody ran in time is worthless later: don't pile them up behind a backlog.
        options={"expires": float(settings.TALLY_HEARTBEAT_SECONDS)},
    ),
)
