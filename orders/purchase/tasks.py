"""Celery tasks for purchase orders: thin wrappers over one service each, safe to run twice."""

from __future__ import annotations

from typing import Any

import requests
from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval
from django.conf import settings

from config.clock import parse_moment
from orders.purchase import notify as notifications
from orders.purchase.renewal import renewal_run


@shared_task(name="orders.run_renewals", acks_late=True, ignore_result=True)
def run_renewals(at: str | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Renew due prepaid purchase orders (and mark, notify, end the ones that cannot pay).
    Idempotent: periods are billed once by constraint."""
    summary = renewal_run(at=parse_moment(at), chunk_size=chunk_size or settings.BILLING_CHUNK_SIZE)
    return summary.as_dict()


@shared_task(
    name="orders.notify",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(requests.RequestException,),
    retry_backoff=True,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=8,
)
def notify(payload: dict[str, Any]) -> bool:
    return notifications.notify_send(payload=payload)


@shared_task(name="orders.notify_batch", bind=True, acks_late=True, ignore_result=True, max_retries=8)
def notify_batch(self: Any, payloads: list[dict[str, Any]]) -> int:
    """Send a chunk's notifications; on a failure retry (with backoff) only the undelivered rest.
    Returns how many were delivered in this attempt."""
    left = notifications.notify_send_batch(payloads=payloads)
    if left:
        countdown = get_exponential_backoff_interval(
            factor=1, retries=self.request.retries, maximum=900, full_jitter=True
        )
        raise self.retry(kwargs={"payloads": left}, countdown=countdown)
    return len(payloads)
