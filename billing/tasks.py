from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing.models import IdempotencyKey
from billing.quota import quota_open_month
from config.clock import month_of


@shared_task(name="billing.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Forget stored idempotent responses older than ``IDEMPOTENCY_KEY_TTL`` (default 48 h)."""
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(name="billing.open_quota_month")
def open_quota_month(month: str | None = None) -> int:
    """Create the month's quota rows (default: the current month in ``TALLY_TIME_ZONE``). Idempotent."""
    target = date.fromisoformat(month) if month else month_of(timezone.now())
    return quota_open_month(month=target)
