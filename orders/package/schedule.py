"""Periodic jobs of package orders and of the billing jobs of every order family."""

from __future__ import annotations

from celery.schedules import crontab

from config.jobs import PeriodicJob
from orders.package.tasks import package_auto_renew, run_billing_jobs

JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob(
        kind="billing_jobs",
        beat_name="orders-run-billing-jobs",
        task=run_billing_jobs,
        schedule=crontab(minute="*"),
        about="hourly and postpaid lines of every order kind (unpaid postpaid -> arrears)",
        takes_chunk_size=True,
        options={"expires": 50},
    ),
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
