"""Periodic jobs of this app, from each order family's module (collected by orders.jobs)."""

from typing import Any

from config.jobs import PeriodicJob, beat_entries
from orders.package import schedule as package
from orders.purchase import schedule as purchase
from orders.vehicle import schedule as vehicle

JOBS: tuple[PeriodicJob, ...] = (*purchase.JOBS, *package.JOBS, *vehicle.JOBS)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = beat_entries(JOBS)
