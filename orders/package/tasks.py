"""Celery tasks for package orders and the billing jobs of every order family (thin wrappers)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from config.clock import parse_moment
from orders.billing_jobs import billing_jobs_run, package_auto_renew_run


@shared_task(name="orders.run_billing_jobs", acks_late=True)
def run_billing_jobs(at: str | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Every due hourly/postpaid line of any subscription kind (SKIP LOCKED chunks)."""
    return billing_jobs_run(at=parse_moment(at), chunk_size=chunk_size or settings.BILLING_CHUNK_SIZE)


@shared_task(name="orders.package_auto_renew", acks_late=True)
def package_auto_renew(at: str | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Prepaid components of auto-renew package instances, before they expire."""
    return package_auto_renew_run(at=parse_moment(at), chunk_size=chunk_size or settings.BILLING_CHUNK_SIZE)
