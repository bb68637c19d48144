"""``X-Tally-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`` on the payment callback (docs/billing.md
"Callback signature").

``<hex>`` is HMAC-SHA256 over ``"<t>.<raw body>"``. Several ``v1`` values let a provider sign with
the new and the old secret during a rotation; we accept ``PAYMENT_CALLBACK_SECRET`` and every
``PAYMENT_CALLBACK_OLD_SECRETS``. ``t`` further than 300 s from now (either way) is refused, which
bounds how long a captured callback can be replayed (and replays are no-ops anyway). The published
development secret ``dev-callback-secret`` verifies nothing unless ``DEBUG`` is on (settings also
refuse to start with it when ``DEBUG`` is off).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from django.conf import settings

from billing.errors import BadSignature

HEADER = "X-Tally-Signature"
DEV_CALLBACK_SECRET = "dev-callback-secret"  # noqa: S105 - published on purpose (config/settings.py)
TOLERANCE_SECONDS = 300


def sign(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    key = (secret if secret is not None else settings.PAYMENT_CALLBACK_SECRET).encode()
    digest = hmac.new(key, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(header: str | None, body: bytes, *, now: float | None = None) -> None:
    """Raise ``BadSignature`` (401, 190303) unless one ``v1`` matches one of our secrets."""
    if not header:
        raise BadSignature(f"missing {HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError as exc:
                raise BadSignature("bad signature timestamp") from exc
        elif key == "v1" and value:
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        raise BadSignature(f"malformed {HEADER} header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > TOLERANCE_SECONDS:
        raise BadSignature("stale signature timestamp")
    secrets = [settings.PAYMENT_CALLBACK_SECRET, *settings.PAYMENT_CALLBACK_OLD_SECRETS]
    message = f"{timestamp}.".encode() + body
    for secret in secrets:
        if not secret or (secret == DEV_CALLBACK_SECRET and not settings.DEBUG):
            continue  # the README's published secret proves nothing outside development
        expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate):
                return
    raise BadSignature("bad signature")
