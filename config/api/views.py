"""Health check and the JSON 404/500 handlers for API paths."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

from config.api.envelope import envelope, is_api_path, json_error
from config.api.errors import ErrorCode
from config.metrics import scrape_allowed

logger = logging.getLogger("tally.health")


def check_database() -> tuple[bool, str]:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports any failure
        return False, f"{type(exc).__name__}: {exc}"


def check_broker(timeout: float = 2.0) -> tuple[bool, str]:
    from kombu import Connection

    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}),
            connect_timeout=timeout,
        ) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            conn.default_channel  # noqa: B018 - opening a channel proves the broker answers
        return True, "ok"
    except Exception as exc:  # noqa: BLE001
        return False, f"{type(exc).__name__}: {exc}"


def healthz(request: HttpRequest) -> JsonResponse:
    """``ok`` per check. 503 when this process cannot serve: the database or the broker does not
    answer, or migrations on disk are not applied. ``worker`` (did a worker answer beat's
    heartbeat recently?) is reported but never fails the probe: a load balancer that pulled every
    web node because the workers stopped would turn a billing delay into an outage; alert on it
    instead. Anonymous callers get ``ok`` flags only (exception text can name hosts, users,
    paths; it goes to the log); a caller allowed to scrape ``/metrics`` also gets each detail."""
    from ops.health import check_migrations, check_worker

    database_ok, database_detail = check_database()
    results: dict[str, tuple[bool, Any]] = {
        "database": (database_ok, database_detail),
        "broker": check_broker(settings.HTTP_TIMEOUT_SECONDS),
    }
    if database_ok:
        results["migrations"] = _guarded(check_migrations)
        results["worker"] = _guarded(check_worker)
    else:  # neither can be read without the database
        results["migrations"] = (False, "database unavailable")
        results["worker"] = (False, "database unavailable")
    healthy = all(ok for name, (ok, _) in results.items() if name != "worker")
    for name, (ok, detail) in results.items():
        if not ok:
            logger.warning("health check failed: %s: %s", name, detail)
    detailed = scrape_allowed(request)
    data = {
        name: ({"ok": ok, "detail": detail} if detailed else {"ok": ok})
        for name, (ok, detail) in results.items()
    }
    code = ErrorCode.OK if healthy else ErrorCode.SERVICE_UNAVAILABLE
    return JsonResponse(
        envelope(code, "OK" if healthy else "unhealthy", data), status=200 if healthy else 503
    )


def _guarded(check: Callable[[], tuple[bool, Any]]) -> tuple[bool, Any]:
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a health check reports any failure
        return False, f"{type(exc).__name__}: {exc}"


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return json_error(ErrorCode.UNSUPPORTED_URL, f"unsupported url: {request.path}", 404)
    return page_not_found(request, exception)  # type: ignore[arg-type]


def handler500(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if is_api_path(request.path):
        return json_error(ErrorCode.UNKNOWN, "internal error", 500)
    return server_error(request)
