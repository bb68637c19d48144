"""Every write to the catalog."""

from __future__ import annotations

from datetime import datetime

from plans.models import PriceRule, PriceVersion


def price_mark_used(*, version_id: int | None = None, rule_id: int | None = None, at: datetime) -> None:
    """Stamp a price version / rule as used by a charge (idempotent). A used price is frozen:
    catalog imports and staff edits must leave it untouched."""
    if version_id is not None:
        PriceVersion.objects.filter(pk=version_id, first_used_at__isnull=True).update(first_used_at=at)
    if rule_id is not None:
        PriceRule.objects.filter(pk=rule_id, first_used_at__isnull=True).update(first_used_at=at)
