"""Celery tasks for package orders and the billing jobs of every order family (thin wrappers)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from orders.services.jobs import billing_jobs_run, package_auto_renew_run


@shared_task(name="orders.run_billing_jobs", acks_late=True)
def run_billing_jobs() -> dict[str, Any]:
    """Every due hourly/postpaid line of any subscription kind (SKIP LOCKED chunks)."""
    return billing_jobs_run()


@shared_task(name="orders.package_auto_renew", acks_late=True)
def package_auto_renew() -> dict[str, Any]:
    """Prepaid components of auto-renew package instances, before they expire."""
    return package_auto_renew_run()
