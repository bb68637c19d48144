"""Periodic jobs of package orders."""

from __future__ import annotations

from celery.schedules import crontab

from config.jobs import PeriodicJob
from orders.package.tasks import package_auto_renew

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="package_auto_renew",
        beat_name="orders-package-auto-renew",
        task=package_auto_renew,
        schedule=crontab(minute="*/5"),
        about="auto-renew prepaid components of package instances (suspended when unpaid)",
        takes_chunk_size=True,
        options={"expires": 250},
    ),
)
