"""``page`` / ``size`` pagination of every list (docs/api.md): ``data: {total, results}``; the
lists that grow without bound (B7) also take ``after=<cursor>`` and answer ``next``
(``config.keyset``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response

from config.api.validation import raise_invalid
from config.keyset import BAD_CURSOR, Cursor, cursor_decode

DEFAULT_SIZE = 30
MAX_SIZE = 100


def parse_page_params(request: Request) -> tuple[int, int]:
    errors: dict[str, list[str]] = {}
    page = _positive_int(request.query_params.get("page"), 1, "page", errors)
    size = _positive_int(request.query_params.get("size"), DEFAULT_SIZE, "size", errors)
    if errors:
        raise_invalid(errors)
    return page, min(size, MAX_SIZE)


AFTER_PARAM = OpenApiParameter(
    "after",
    str,
    required=False,
    description="the `next` of a previous page (an opaque cursor): the rows after that page's last one, "
    "by keyset, at the cost of the first page at any depth; with `size`, not with `page`",
)


def after_param(
    request: Request, errors: dict[str, list[str]], *, sources: int = 1
) -> tuple[Cursor | None, bool]:
    """``(cursor, keyset)`` from ``after``: ``keyset`` is True when the parameter was given (an
    empty value starts the walk at the top); a malformed cursor, or ``after`` with ``page``, is an
    error naming ``after``."""
    if "after" not in request.query_params:
        return None, False
    raw = request.query_params.get("after") or ""
    if request.query_params.get("page"):
        errors["after"] = ["cannot be combined with page"]
        return None, True
    if not raw:
        return None, True
    cursor = cursor_decode(raw, sources=sources)
    if cursor is None:
        errors["after"] = [BAD_CURSOR]
    return cursor, True


def _positive_int(raw: str | None, default: int, name: str, errors: dict[str, list[str]]) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        errors[name] = ["must be a whole number"]
        return default
    if value < 1:
        errors[name] = ["must be >= 1"]
    return value


class PageSizePagination(BasePagination):
    """Counts in the database and slices with LIMIT/OFFSET; a page past the end is a 400."""

    page_query_param = "page"
    page_size_query_param = "size"

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        page, size = parse_page_params(request)
        self.total = queryset.count() if hasattr(queryset, "count") else len(queryset)
        last_page = max(1, -(-self.total // size))
        if page > last_page:
            raise_invalid({"page": [f"out of range: there are {last_page} page(s)"]})
        start = (page - 1) * size
        return list(queryset[start : start + size])

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"total": self.total, "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["total", "results"],
            "properties": {"total": {"type": "integer"}, "results": schema},
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
            {
                "name": "size",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SIZE},
            },
        ]
