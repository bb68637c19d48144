"""Request ids on every log line, and the envelope for errors Django raises outside DRF."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from config.api.envelope import TallyJSONEncoder, is_api_path, json_error
from config.api.errors import ErrorCode
from config.logs import request_id_var

logger = logging.getLogger("tally.api")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


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


def body_limit_for(path: str) -> int:
    """The largest request body accepted on ``path`` (``API_MAX_BODY_BYTES`` unless a prefix of
    ``API_BODY_LIMITS`` says more, e.g. meter-event batches of 1000)."""
    for prefix, limit in settings.API_BODY_LIMITS.items():
        if path.startswith(prefix):
            return int(limit)
    return int(settings.API_MAX_BODY_BYTES)


def too_large(request: HttpRequest, limit: int) -> HttpResponse:
    return json_error(
        ErrorCode.PAYLOAD_TOO_LARGE, f"request body too large: at most {limit} bytes on {request.path}", 413
    )


class RequestSizeLimitMiddleware:
    """413 in the envelope for an API body over its limit, judged by ``Content-Length`` before any
    view (or a callback's signature check) reads a byte. A body without ``Content-Length`` cannot
    be larger than Django reads (nothing); ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is the backstop."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if is_api_path(request.path):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = body_limit_for(request.path)
            if length > limit:
                return too_large(request, limit)
        return self.get_response(request)


_KEPT_HEADERS = ("Retry-After", "WWW-Authenticate", "Allow", "Content-Language")
_PLAIN_ERRORS: dict[int, tuple[int, str]] = {
    400: (ErrorCode.INVALID_PARAMETERS, "bad request"),
    401: (ErrorCode.AUTH_FAILED, "auth failed"),
    403: (ErrorCode.PERMISSION_DENIED, "permission denied"),
    406: (ErrorCode.NOT_ACCEPTABLE, "not acceptable: ask for application/json"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "request body too large"),
    415: (ErrorCode.UNSUPPORTED_MEDIA_TYPE, "unsupported media type"),
    429: (ErrorCode.THROTTLED, "too many requests"),
    503: (ErrorCode.SERVICE_UNAVAILABLE, "service unavailable"),
}


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
        data = getattr(response, "data", None)
        if getattr(response, "enveloped", False) and isinstance(data, dict) and "code" in data:
            # An error envelope the exception handler built, rendered by another renderer (the
            # browsable API for ``Accept: text/html``, a CSV view): send it as JSON, code and msg kept.
            out = JsonResponse(data, status=response.status_code, encoder=TallyJSONEncoder)
            for header in _KEPT_HEADERS:
                if header in response:
                    out[header] = response[header]
            return out
        status = response.status_code
        if status == 404:
            return json_error(ErrorCode.UNSUPPORTED_URL, f"unsupported url: {request.path}", 404)
        if status == 405:
            return json_error(ErrorCode.METHOD_NOT_ALLOWED, f"method {request.method} not allowed", 405)
        if status in _PLAIN_ERRORS:
            code, msg = _PLAIN_ERRORS[status]
            return json_error(code, msg, status)
        return json_error(ErrorCode.UNKNOWN, "internal error", status)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        if isinstance(exception, RequestDataTooBig):
            return too_large(request, body_limit_for(request.path))
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(ErrorCode.UNKNOWN, "internal error", 500)
