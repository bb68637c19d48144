"""Health check and the JSON 404/500 handlers for API paths."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error

from config.api.envelope import envelope, is_api_path, json_error
from config.api.errors import ErrorCode

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
    """Anonymous: ``ok`` true/false per dependency and nothing else; why a check failed (exception
    text can name hosts, users, paths) goes to the log only."""
    results = {
        "database": check_database(),
        "broker": check_broker(settings.HTTP_TIMEOUT_SECONDS),
    }
    healthy = all(ok for ok, _ in results.values())
    for name, (ok, detail) in results.items():
        if not ok:
            logger.warning("health check failed: %s: %s", name, detail)
    data = {name: {"ok": ok} for name, (ok, _) in results.items()}
    code = ErrorCode.OK if healthy else ErrorCode.SERVICE_UNAVAILABLE
    return JsonResponse(
        envelope(code, "OK" if healthy else "unhealthy", data), status=200 if healthy else 503
    )


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request.path):
        return json_error(ErrorCode.UNSUPPORTED_URL, f"unsupported url: {request.path}", 404)
    return page_not_found(request, exception)  # type: ignore[arg-type]


def handler500(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    if is_api_path(request.path):
        return json_error(ErrorCode.UNKNOWN, "internal error", 500)
    return server_error(request)
