"""Celery discovers ``orders.tasks``: each order family registers its tasks in its own module, and
the one task that bills every family's lines is here.

Task names (``name=`` on each task) do not follow the module path: they are sent by name and
stay the same wherever the code lives."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from config.clock import parse_moment
from orders.billing_jobs import billing_jobs_run
from orders.package import tasks as package_tasks  # noqa: F401
from orders.purchase import tasks as purchase_tasks  # noqa: F401
from orders.vehicle import tasks as vehicle_tasks  # noqa: F401


@shared_task(name="orders.run_billing_jobs", acks_late=True)
def run_billing_jobs(at: str | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Every due hourly/postpaid line of any subscription kind (SKIP LOCKED chunks)."""
    return billing_jobs_run(at=parse_moment(at), chunk_size=chunk_size or settings.BILLING_CHUNK_SIZE)
