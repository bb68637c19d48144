"""Celery tasks of the billing app (thin; periodic ones take ``at``, the moment they run for, so
``manage.py run_billing --at`` runs the same bodies; see config/jobs.py)."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings

from billing.models import IdempotencyKey
from billing.quota import quota_open_month
from config.clock import month_of, parse_moment


@shared_task(name="billing.purge_idempotency_keys")
def purge_idempotency_keys(at: str | None = None) -> int:
    """Forget stored idempotent responses older than ``IDEMPOTENCY_KEY_TTL`` (default 48 h)."""
    cutoff = parse_moment(at) - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(name="billing.open_quota_month")
def open_quota_month(month: str | None = None, at: str | None = None) -> int:
    """Create the month's quota rows (default: the month of ``at``, or of now, in
    ``TALLY_TIME_ZONE``). Idempotent."""
    target = date.fromisoformat(month) if month else month_of(parse_moment(at))
    return quota_open_month(month=target)


# Statement and credit-note tasks live beside their services; importing them registers them.
from billing.alerts import tasks as alert_tasks  # noqa: E402,F401
from billing.statements import tasks as statement_tasks  # noqa: E402,F401
