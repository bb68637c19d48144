"""``Idempotency-Key`` semantics for any money-moving endpoint (API.md "Idempotency").

The key row is inserted (and committed) before the work starts, so a concurrent duplicate hits the
unique constraint at once and then waits for the first response instead of doing the work again.
The first response (success or a 4xx answer) is stored and replayed byte-for-byte in content; a
5xx removes the row so the client may retry. Same key, different request: 409 code 3320.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import IdempotencyKey
from config.api.envelope import TallyJSONEncoder, error_response
from config.api.errors import ErrorCode

HEADER = "Idempotency-Key"
POLL_SECONDS = 0.05


def request_fingerprint(request: Request, view_kwargs: dict[str, Any]) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=TallyJSONEncoder, separators=(",", ":"))
    query = sorted(request.query_params.lists())
    material = json.dumps([request.method, request.path, query, view_kwargs, body], cls=TallyJSONEncoder)
    return hashlib.sha256(material.encode()).hexdigest()


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
                    user_id=request.user.pk, key=key, fingerprint=fingerprint
                )
        except IntegrityError:
            return _replay(request, key, fingerprint)
        try:
            response = handler(view, request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - turned into the envelope response and stored
            response = view.handle_exception(exc)
        if response.status_code >= 500:
            IdempotencyKey.objects.filter(pk=record.pk).delete()
            return response
        stored = {"enveloped": bool(getattr(response, "enveloped", False)), "data": response.data}
        IdempotencyKey.objects.filter(pk=record.pk).update(
            state=IdempotencyKey.State.DONE,
            response_status=response.status_code,
            response_body=json.dumps(stored, cls=TallyJSONEncoder),
        )
        return response

    return wrapper


def _replay(request: Request, key: str, fingerprint: str) -> Response:
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
        if time.monotonic() > deadline:
            return error_response(
                ErrorCode.IDEMPOTENCY_IN_PROGRESS, "a request with this Idempotency-Key is still running", 409
            )
        time.sleep(POLL_SECONDS)
