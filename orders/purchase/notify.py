"""Notifications to ``NOTIFY_URL`` (docs/purchase-orders.md): ``order_created``, ``order_renewed``,
``order_renew_failed``, ``order_closed``, ``order_canceled``.

They are sent by task name once the transaction commits (``config.enqueue.enqueue_on_commit``,
so this module never imports the tasks): a rolled-back charge sends nothing, and a broken broker
never blocks or rolls back the charge that triggered it (the failed send is logged as an error).
The tasks (``orders.notify``, ``orders.notify_batch``) retry with backoff; without ``NOTIFY_URL``
they only log.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from billing.signature import HEADER as SIGNATURE_HEADER
from billing.signature import sign
from config.enqueue import enqueue_on_commit

logger = logging.getLogger(__name__)

EVENT_ID_HEADER = "X-Tally-Event-Id"
EVENTS = ("order_created", "order_renewed", "order_renew_failed", "order_closed", "order_canceled")
NOTIFY_TASK = "orders.notify"  # one payload
NOTIFY_BATCH_TASK = "orders.notify_batch"  # many, in order


def order_payload(*, event: str, order: Any, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "event": event,
        "time": timezone.now().isoformat(),
        "order": {
            "id": order.pk,
            "order_id": order.order_id,
            "namespace": order.account.namespace,
            "region": order.region,
            "plan_id": order.plan.plan_id,
            "resource_name": order.resource_name,
            "status": order.status_label,
            "deadline": order.deadline.isoformat() if order.deadline else None,
        },
        "data": data or {},
    }


def notify_order(*, event: str, order: Any, data: dict[str, Any] | None = None) -> None:
    """Send ``event`` about ``order`` once the current transaction commits."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification {event!r}")
    enqueue_on_commit(NOTIFY_TASK, payload=order_payload(event=event, order=order, data=data))


def notify_orders(payloads: list[dict[str, Any]]) -> None:
    """Send many notifications (built with ``order_payload``) once the current transaction commits,
    as ONE task: a batch job (the renewal engine) enqueues one message per chunk, not per order."""
    if not payloads:
        return
    for payload in payloads:
        if payload.get("event") not in EVENTS:
            raise ValueError(f"unknown notification {payload.get('event')!r}")
    enqueue_on_commit(NOTIFY_BATCH_TASK, payloads=list(payloads))


def notify_send_batch(*, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """POST each payload in order; return the ones not delivered (the first failure and the rest)
    so a retry resends only those."""
    for index, payload in enumerate(payloads):
        try:
            notify_send(payload=payload)
        except requests.RequestException as exc:
            logger.warning("notification %s failed: %s", payload.get("event"), exc)
            return payloads[index:]
    return []


def notify_send(*, payload: dict[str, Any]) -> bool:
    """POST the payload. Raises ``requests.RequestException`` (the task retries); False if no URL."""
    url = settings.NOTIFY_URL
    if not url:
        # Order events name the order; billing's documents (statement_issued, credit_note_issued,
        # sent through this task by name) carry "subject".
        subject = payload.get("subject") or (payload.get("order") or {}).get("order_id")
        logger.info("notification %s for %s (no NOTIFY_URL)", payload.get("event"), subject)
        return False
    body, headers = signed_delivery(payload)
    response = requests.post(url, data=body, headers=headers, timeout=getattr(settings, "NOTIFY_TIMEOUT", 5))
    response.raise_for_status()
    return True


def event_id(payload: dict[str, Any]) -> str:
    """The id a receiver dedupes on: a digest of the payload, so every retry of one notification
    (the task resends the same payload) carries the same id, and two notifications never share one
    (each payload has its own ``time``)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    return "evt_" + hashlib.sha256(canonical).hexdigest()[:32]


def signed_delivery(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """The exact body and headers POSTed: ``id`` added to the payload, ``X-Tally-Signature``
    (``t=<unix>,v1=HMAC-SHA256(NOTIFY_SECRET, "<t>.<body>")``, the scheme of the inbound payment
    callback) and ``X-Tally-Event-Id``. docs/notifications.md shows a receiver."""
    identified = {"id": event_id(payload), **payload}
    body = json.dumps(identified, separators=(",", ":"), default=str).encode()
    return body, {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret=settings.NOTIFY_SECRET),
        EVENT_ID_HEADER: identified["id"],
    }
