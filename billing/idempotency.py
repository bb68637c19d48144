"""``Idempotency-Key`` semantics for any money-moving endpoint (docs/api.md).

The key row is inserted (and committed) before the work starts, so a concurrent duplicate hits the
unique constraint at once and then waits for the first response instead of doing the work again.
The first response (success or a 4xx answer) is stored and replayed byte-for-byte in content; a
5xx removes the row so the client may retry. Same key, different request: 409 code 3320.

A ``running`` row is a lease: it belongs to the request doing the work until ``lease_until``
(``IDEMPOTENCY_LEASE_SECONDS``, a few times the longest request). A process killed mid-request
leaves the row running; once the lease has expired, the next request with the same key and body
takes it over with one conditional UPDATE (``attempt`` bumped only if nobody else bumped it first,
so exactly one taker) and does the work. What the dead holder had already committed is not done
twice: every money movement carries its own ledger idempotency key. A slow holder that outlived its
lease finds its row taken and stores nothing; the taker's answer is the one replayed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import IdempotencyKey
from config.api.envelope import TallyJSONEncoder, error_response
from config.api.errors import ErrorCode

HEADER = "Idempotency-Key"
POLL_SECONDS = 0.05
log = logging.getLogger(__name__)


def request_fingerprint(request: Request, view_kwargs: dict[str, Any]) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=TallyJSONEncoder, separators=(",", ":"))
    query = sorted(request.query_params.lists())
    material = json.dumps([request.method, request.path, query, view_kwargs, body], cls=TallyJSONEncoder)
    return hashlib.sha256(material.encode()).hexdigest()


def lease_seconds() -> timedelta:
    return timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a DRF view method (``post``/``put``/an ``@action``)."""

    @wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not key or len(key) > 255:
            raise ValidationError({HEADER: ["must be 1-255 characters"]})
        fingerprint = request_fingerprint(request, kwargs)
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    user_id=request.user.pk,
                    key=key,
                    fingerprint=fingerprint,
                    lease_until=timezone.now() + lease_seconds(),
                )
            lease = (record.pk, record.attempt)
        except IntegrityError:
            outcome = _replay_or_take_over(request, key, fingerprint)
            if isinstance(outcome, Response):
                return outcome
            lease = outcome
        return _run(handler, view, request, args, kwargs, lease)

    wrapper.reads_idempotency_key = True  # type: ignore[attr-defined]  # the schema declares the header
    return wrapper


def _run(
    handler: Callable[..., Response],
    view: Any,
    request: Request,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    lease: tuple[int, int],
) -> Response:
    pk, attempt = lease
    try:
        response = handler(view, request, *args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - turned into the envelope response and stored
        response = view.handle_exception(exc)
    # Only the current holder writes: a holder whose lease was taken over leaves the row alone.
    mine = IdempotencyKey.objects.filter(pk=pk, attempt=attempt, state=IdempotencyKey.State.RUNNING)
    if response.status_code >= 500:
        mine.delete()
        return response
    stored = {"enveloped": bool(getattr(response, "enveloped", False)), "data": response.data}
    written = mine.update(
        state=IdempotencyKey.State.DONE,
        response_status=response.status_code,
        response_body=json.dumps(stored, cls=TallyJSONEncoder),
    )
    if not written:
        log.warning("idempotency key %s: lease lost to a retry; its answer stands, not this one", pk)
    return response


def _take_over(record: IdempotencyKey, now: datetime) -> tuple[int, int] | None:
    """Bump the attempt of an expired running lease; None if it is live or another retry won."""
    expired = Q(lease_until__lt=now) | Q(lease_until__isnull=True, created_at__lt=now - lease_seconds())
    running = IdempotencyKey.State.RUNNING
    seen = IdempotencyKey.objects.filter(pk=record.pk, state=running, attempt=record.attempt)
    taken = seen.filter(expired).update(attempt=F("attempt") + 1, lease_until=now + lease_seconds())
    if not taken:
        return None
    log.warning("idempotency key %s: expired lease of attempt %s taken over", record.pk, record.attempt)
    return record.pk, record.attempt + 1


def _replay_or_take_over(request: Request, key: str, fingerprint: str) -> Response | tuple[int, int]:
    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    while True:
        record = IdempotencyKey.objects.filter(user_id=request.user.pk, key=key).first()
        if record is None:
            # The first request failed with a 5xx and released the key: ask the client to retry.
            return error_response(ErrorCode.IDEMPOTENCY_IN_PROGRESS, "retry: the first request failed", 409)
        if record.fingerprint != fingerprint:
            return error_response(
                ErrorCode.IDEMPOTENCY_CONFLICT,
                "Idempotency-Key was already used with a different request",
                409,
            )
        if record.state == IdempotencyKey.State.DONE:
            stored = json.loads(record.response_body)
            response = Response(stored["data"], status=record.response_status)
            response.enveloped = stored["enveloped"]  # type: ignore[attr-defined]
            response["Idempotent-Replayed"] = "true"
            return response
        lease = _take_over(record, timezone.now())
        if lease is not None:
            return lease
        if time.monotonic() > deadline:
            return error_response(
                ErrorCode.IDEMPOTENCY_IN_PROGRESS, "a request with this Idempotency-Key is still running", 409
            )
        time.sleep(POLL_SECONDS)
