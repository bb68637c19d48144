"""One OpenAPI tag per area of the API (Swagger UI's sections), from the path: without it every
``/api/v1/...`` operation sat under one catch-all tag ``api``. A view's own ``extend_schema(tags=)``
still wins."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema

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


class TallyAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        tag = area_of(self.path)
        return [tag] if tag else super().get_tags()
