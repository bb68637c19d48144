"""Periodic jobs of this app: each order family's, and the billing jobs of every family (collected
by orders.jobs)."""

from typing import Any

from celery.schedules import crontab

from config.jobs import PeriodicJob, beat_entries
from orders.package import schedule as package
from orders.purchase import schedule as purchase
from orders.tasks import run_billing_jobs
from orders.vehicle import schedule as vehicle

BILLING_JOBS = PeriodicJob(
    kind="billing_jobs",
    beat_name="orders-run-billing-jobs",
    task=run_billing_jobs,
    schedule=crontab(minute="*"),
    about="hourly and postpaid lines of every order kind (unpaid postpaid -> arrears)",
    takes_chunk_size=True,
    options={"expires": 50},
)
JOBS: tuple[PeriodicJob, ...] = (*purchase.JOBS, BILLING_JOBS, *package.JOBS, *vehicle.JOBS)
BEAT_SCHEDULE: dict[str, dict[str, Any]] = beat_entries(JOBS)
