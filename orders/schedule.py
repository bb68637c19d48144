"""Periodic jobs of this app, from each order family's module (collected by orders.services.jobs)."""

from typing import Any

from config.jobs import PeriodicJob, beat_entries
from orders.schedules import package, purchase, vehicle

JOBS: tuple[PeriodicJob, ...] = (*purchase.JOBS, *package.JOBS, *vehicle.JOBS)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = beat_entries(JOBS)
