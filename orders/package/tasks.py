"""Celery tasks for package orders (thin wrappers)."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from config.clock import parse_moment
from orders.package.auto_renew import package_auto_renew_run


@shared_task(name="orders.package_auto_renew", acks_late=True)
def package_auto_renew(at: str | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Prepaid components of auto-renew package instances, before they expire."""
    return package_auto_renew_run(at=parse_moment(at), chunk_size=chunk_size or settings.BILLING_CHUNK_SIZE)
