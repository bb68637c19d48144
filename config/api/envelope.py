"""The ``{code, msg, data}`` envelope of every answer (docs/api.md), for successes and every kind of error."""

from __future__ import annotations

import json
import logging
import math
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from config.api.errors import ErrorCode
from config.api.throttling import count_anonymous_refusal
from config.api.validation import flatten_errors, invalid_message
from config.exceptions import DomainError

logger = logging.getLogger("tally.api")

API_PREFIXES = ("/usageapi/", "/api/", "/internal/")


def envelope(code: int, msg: str, data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": int(code), "msg": msg}
    if data is not None:
        body["data"] = data
    return body


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES) and not path.startswith(("/api/schema", "/api/docs"))


class TallyJSONEncoder(json.JSONEncoder):
    """Decimals become strings, never floats: money keeps its exact digits."""

    def default(self, o: Any) -> Any:
        if isinstance(o, Decimal):
            return str(o)
        if isinstance(o, datetime | date):
            return o.isoformat()
        if isinstance(o, UUID):
            return str(o)
        return super().default(o)


class EnvelopeJSONRenderer(JSONRenderer):
    """Wraps successful payloads in ``{"code": 0, "msg": "OK", "data": ...}``.

    Error responses already carry an envelope (built by the exception handler) and are marked so
    they are not wrapped twice.
    """

    charset = "utf-8"
    encoder_class = TallyJSONEncoder

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and not getattr(response, "enveloped", False):
            if response.status_code == 204:
                response.status_code = 200
            data = envelope(ErrorCode.OK, "OK", data)
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:  # a lone surrogate that slipped past input checks: escape it
            return json.dumps(data, cls=self.encoder_class, ensure_ascii=True).encode("ascii")


def error_response(code: int, msg: str, status: int, data: Any = None, headers: Any = None) -> Response:
    response = Response(envelope(code, msg, data), status=status, headers=headers)
    response.enveloped = True  # type: ignore[attr-defined]
    return response


def envelope_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    view = context.get("view")
    family = getattr(view, "error_family", None)

    if isinstance(exc, DomainError):
        data: dict[str, Any] = dict(exc.data)
        if exc.errors:
            data["errors"] = exc.errors
        return error_response(exc.code_for(family), exc.message, exc.http_status, data or None)
    if isinstance(exc, Http404):
        return error_response(ErrorCode.NOT_FOUND, "not found", 404)
    if isinstance(exc, DjangoPermissionDenied):
        return error_response(ErrorCode.PERMISSION_DENIED, "permission denied", 403)
    if isinstance(exc, RequestDataTooBig):
        return error_response(ErrorCode.PAYLOAD_TOO_LARGE, "request body too large", 413)
    if isinstance(exc, drf_exceptions.ParseError):
        return error_response(ErrorCode.PARSE_JSON, f"parse json: {exc.detail}", 400)
    if isinstance(exc, drf_exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        code = getattr(view, "validation_error_code", ErrorCode.INVALID_PARAMETERS)
        return error_response(code, invalid_message(errors), 400, {"errors": errors})
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        wait = count_anonymous_refusal(context.get("request"))
        if wait is not None:
            exc = drf_exceptions.Throttled(wait=wait)
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return error_response(
            ErrorCode.AUTH_FAILED, f"auth failed: {exc.detail}", 401, headers={"WWW-Authenticate": "Token"}
        )
    if isinstance(exc, drf_exceptions.PermissionDenied):
        return error_response(ErrorCode.PERMISSION_DENIED, f"permission denied: {exc.detail}", 403)
    if isinstance(exc, drf_exceptions.NotFound):
        return error_response(ErrorCode.NOT_FOUND, "not found", 404)
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return error_response(ErrorCode.METHOD_NOT_ALLOWED, str(exc.detail), 405)
    if isinstance(exc, drf_exceptions.Throttled):
        wait = getattr(exc, "wait", None)
        headers = {"Retry-After": str(max(1, math.ceil(wait)))} if wait else None
        return error_response(ErrorCode.THROTTLED, str(exc.detail), 429, headers=headers)
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return error_response(ErrorCode.NOT_ACCEPTABLE, f"not acceptable: {exc.detail}", 406)
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return error_response(ErrorCode.UNSUPPORTED_MEDIA_TYPE, str(exc.detail), 415)
    if isinstance(exc, drf_exceptions.APIException):
        return error_response(ErrorCode.UNKNOWN, str(exc.detail), exc.status_code)
    # Anything else is a bug: log it with the traceback, answer a clean 500.
    logger.exception("unhandled error in %s", view.__class__.__name__ if view else "view")
    return error_response(ErrorCode.UNKNOWN, "internal error", 500)


def json_error(code: int, msg: str, status: int) -> JsonResponse:
    return JsonResponse(envelope(code, msg), status=status)
