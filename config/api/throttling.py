"""Request throttling for the API (issue 14.3): one counter per caller and window in the cache.

Scopes (rates from the environment, ``config/settings.py``):

- ``user``: an authenticated caller, keyed by user id;
- ``anon``: an anonymous caller, keyed by client IP (``REST_FRAMEWORK["NUM_PROXIES"]`` says how
  many proxies' ``X-Forwarded-For`` entries to trust); a request whose token is wrong counts here
  too (``ThrottledTokenAuthentication``), so guessing tokens is throttled per IP;
- ``internal``: ``/internal/`` paths (the gateway's quota calls, the payment callback), keyed by
  user or IP, with a separate, higher rate.

A fixed window per scope: one atomic ``INCR`` on the shared cache (Redis in production, so every
worker counts together) per request, nothing else, which keeps the deduct-quota hot path cheap
(B2 in docs/benchmarks.md). If the cache is down the request is let through and a warning logged:
throttling must never take the API down with it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger("tally.api")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"120/min"`` -> (120, 60). The unit's first letter counts, as in DRF."""
    num, _, period = rate.partition("/")
    return int(num), _UNITS[period.strip()[0].lower()]


def _hit(scope: str, ident: str) -> float | None:
    """Count one request; the seconds to wait if it is over the scope's rate, else ``None``."""
    rate = settings.TALLY_THROTTLE_RATES.get(scope)
    if not rate:
        return None
    limit, window = parse_rate(rate)
    now = time.time()
    slot = int(now // window)
    key = f"thr:{settings.TALLY_THROTTLE_KEY_PREFIX}:{scope}:{ident}:{slot}"
    cache = caches[settings.TALLY_THROTTLE_CACHE]
    try:
        count = _incr(cache, key, window + 1)
    except Exception:  # noqa: BLE001 - a broken cache must not break the API
        logger.warning("throttle cache unavailable; request let through", exc_info=True)
        return None
    if count <= limit:
        return None
    return max(1.0, (slot + 1) * window - now)


def _incr(cache: Any, key: str, timeout: int) -> int:
    """The window's count after this request. On Redis one round trip (``INCR``; ``EXPIRE`` only
    for the window's first request): Django's ``cache.incr`` costs two (``EXISTS`` + ``INCR``)."""
    if isinstance(cache, RedisCache):
        full_key = cache.make_and_validate_key(key)
        client = cache._cache.get_client(full_key, write=True)  # type: ignore[attr-defined]
        count = int(client.incr(full_key))
        if count == 1:
            client.expire(full_key, timeout)
        return count
    try:
        return int(cache.incr(key))
    except ValueError:  # first request of the window
        if cache.add(key, 1, timeout=timeout):
            return 1
        return int(cache.incr(key))


def _client_ip(request: Any) -> str:
    return BaseThrottle().get_ident(request)


class TallyThrottle(BaseThrottle):
    """The one throttle of ``DEFAULT_THROTTLE_CLASSES``: picks the scope from the request."""

    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        user = getattr(request, "user", None)
        internal = request.path.startswith("/internal/")
        if user is not None and user.is_authenticated:
            scope, ident = ("internal" if internal else "user"), f"u{user.pk}"
        else:
            scope, ident = ("internal" if internal else "anon"), f"ip{_client_ip(request)}"
        self._wait = _hit(scope, ident)
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


def count_anonymous_refusal(request: Any) -> float | None:
    """A request without credentials refused by a permission check (DRF checks permissions before
    throttles): count it per IP; the seconds to wait if that IP is over the ``anon`` rate."""
    if request is None:
        return None
    return _hit("anon", f"ip{_client_ip(request)}")


class ThrottledTokenAuthentication(TokenAuthentication):
    """Token authentication whose failures count against the caller's IP (scope ``anon``):
    past the rate a wrong token gets 429 instead of another try."""

    def authenticate(self, request: Request) -> Any:
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            wait = _hit("anon", f"ip{_client_ip(request)}")
            if wait is not None:
                raise Throttled(wait=wait) from None
            raise
