"""The ``drytry`` flag of the order APIs (the origin's ``?drytry=0|1``; ``dry_run`` is a synonym).

A preview must never turn into the real thing by accident, so the flag is never ignored: it is read
from the query string and from a JSON body, a value other than 0/1 (or true/false) is 3307, and an
operation that has no preview answers 3307 to ``drytry=1`` instead of moving money
(``PreviewGuardMixin``). A preview request is answered before ``@idempotent`` runs: it stores no
``Idempotency-Key`` row, so the same key can then be used for the real call.
"""

from __future__ import annotations

from typing import Any, ClassVar

from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from config.api.validation import raise_invalid

NAMES = ("drytry", "dry_run")
TRUE = ("1", "true")
FALSE = ("0", "false", "")

DRYTRY_PARAM = OpenApiParameter(
    "drytry",
    int,
    enum=[0, 1],
    required=False,
    description="1: answer what the call would charge or refund and write nothing (`dry_run` is a "
    "synonym; also accepted in a JSON body)",
)


def _parse_flag(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        low = raw.strip().lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
    return None


def drytry_requested(request: Request) -> bool:
    """True when the request asks for a preview; 3307 for a value that is not 0/1 or for two
    flags that disagree."""
    errors: dict[str, list[str]] = {}
    seen: set[bool] = set()
    body = request.data if request.method not in SAFE_METHODS and isinstance(request.data, dict) else {}
    for name in NAMES:
        raws = list(request.query_params.getlist(name)) if name in request.query_params else []
        if name in body:
            raws.append(body[name])
        for raw in raws:
            value = _parse_flag(raw)
            if value is None:
                errors[name] = ["must be 0 or 1"]
            else:
                seen.add(value)
    if not errors and len(seen) > 1:
        errors["drytry"] = ["given more than once with different values"]
    if errors:
        raise_invalid(errors)
    return seen == {True}


def refuse_drytry(request: Request) -> None:
    """For an operation without a preview: ``drytry=1`` is 3307, never silently the real call."""
    if drytry_requested(request):
        raise_invalid({"drytry": ["this operation has no preview: call it without drytry"]})


class PreviewGuardMixin:
    """On every unsafe method of the view, a ``drytry`` the handler does not implement is 3307.

    ``preview_handlers`` names the handlers (``post``/``put`` of an APIView, the action of a
    ViewSet) that answer ``drytry=1`` themselves; every other unsafe handler refuses it before it runs.
    """

    preview_handlers: ClassVar[frozenset[str]] = frozenset()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method in SAFE_METHODS:
            return
        handler = getattr(self, "action", None) or (request.method or "").lower()
        if handler not in self.preview_handlers:
            refuse_drytry(request)
