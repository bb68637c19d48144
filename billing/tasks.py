from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from billing.models import IdempotencyKey


@shared_task(name="billing.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    """Forget stored idempotent responses older than ``IDEMPOTENCY_KEY_TTL`` (default 48 h)."""
    cutoff = timezone.now() - settings.IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
