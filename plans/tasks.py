"""Celery tasks of the catalog. Thin: each calls one service and is safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from plans.sync import sync_plans_logged

logger = logging.getLogger(__name__)


@shared_task(name="plans.sync_plans")
def sync_plans_task() -> dict[str, Any] | None:
    """Beat: pull the catalog from ``PLAN_SERVICE_URL`` (an import is idempotent)."""
    if not settings.PLAN_SERVICE_URL:
        logger.info("plans.sync_plans skipped: PLAN_SERVICE_URL is empty")
        return None
    report = sync_plans_logged(url=settings.PLAN_SERVICE_URL)
    return report.as_dict() if report else None
