"""One OpenAPI tag per area of the API (Swagger UI's sections), from the path: without it every
``/api/v1/...`` operation sat under one catch-all tag ``api``. A view's own ``extend_schema(tags=)``
still wins."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

# First matching prefix wins: the more specific ones first.
AREAS: tuple[tuple[str, str], ...] = (
    ("/usageapi/v1/orders", "purchase orders"),
    ("/usageapi/v1/", "usage and reports"),
    ("/api/v1/billing/statements", "statements and credit notes"),
    ("/api/v1/billing/credit-notes", "statements and credit notes"),
    ("/api/v1/billing/", "wallet and recharges"),
    ("/internal/", "internal"),
    ("/api/v1/package-orders", "package orders"),
    ("/api/v1/instances/", "package orders"),
    ("/api/v1/bills", "package orders"),
    ("/api/v1/consume-orders", "package orders"),
    ("/api/v1/meter-events", "package orders"),
    ("/api/v1/plan-orders", "vehicle orders"),
    ("/api/v1/driver-orders", "vehicle orders"),
    ("/api/v1/sale-orders", "vehicle orders"),
    ("/api/v1/orders", "vehicle orders"),
    ("/api/v1/plans", "plans"),
    ("/api/v1/products", "plans"),
    ("/api/v1/cost", "plans"),
    ("/api/v1/catalog", "plans"),
    ("/api/v1/me", "you"),
)


def area_of(path: str) -> str | None:
    return next((tag for prefix, tag in AREAS if path.startswith(prefix)), None)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="a repeat with the same key and body returns the first response and changes nothing",
)


class TallyAutoSchema(AutoSchema):
    def get_override_parameters(self) -> list[Any]:
        """The ``Idempotency-Key`` header on every handler that reads it (billing.idempotency
        marks them), whether or not its ``extend_schema`` remembered to say so."""
        parameters = list(super().get_override_parameters())
        handler = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        declared = {getattr(parameter, "name", None) for parameter in parameters}
        if getattr(handler, "reads_idempotency_key", False) and IDEMPOTENCY_KEY.name not in declared:
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def get_tags(self) -> list[str]:
        tag = area_of(self.path)
        return [tag] if tag else super().get_tags()

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        """drf-spectacular lists every read-only field as required in a response; a field declared
        ``required=False`` (``end_time`` only once an order ended, ``credit`` only on a modify) is
        sometimes absent, so it is not (the recorded examples validate against this,
        tests/config/test_api_examples.py)."""
        schema: dict[str, Any] = super()._map_basic_serializer(serializer, direction)
        optional = {
            name
            for name, field in serializer.fields.items()
            if field.read_only and getattr(field, "_kwargs", {}).get("required") is False
        }
        if optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema
