"""Request ids on every log line, and the envelope for errors Django raises outside DRF."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from config.api.envelope import is_api_path, json_error
from config.api.errors import ErrorCode

logger = logging.getLogger("tally.api")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ApiErrorEnvelopeMiddleware:
    """API paths never answer HTML: 404/405/500 from Django itself become the envelope."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not is_api_path(request.path) or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 404:
            return json_error(ErrorCode.UNSUPPORTED_URL, f"unsupported url: {request.path}", 404)
        if response.status_code == 405:
            return json_error(ErrorCode.METHOD_NOT_ALLOWED, f"method {request.method} not allowed", 405)
        if response.status_code == 403:
            return json_error(ErrorCode.PERMISSION_DENIED, "permission denied", 403)
        if response.status_code == 400:
            return json_error(ErrorCode.INVALID_PARAMETERS, "bad request", 400)
        return json_error(ErrorCode.UNKNOWN, "internal error", response.status_code)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(ErrorCode.UNKNOWN, "internal error", 500)
