"""Which price is in force. Nothing outside this app computes it (issue: plans)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from plans.models import Plan, PriceVersion


def price_version_in_force(plan: Plan, at: datetime) -> PriceVersion | None:
    """The latest version with ``effective_from <= at`` (DOMAIN.md 3)."""
    return plan.price_versions.filter(effective_from__lte=at).order_by("-effective_from").first()


def price_in_force(plan: Plan, at: datetime) -> Decimal | None:
    version = price_version_in_force(plan, at)
    return version.price if version else None


def mark_price_used(*, version: PriceVersion | None = None, rule_id: int | None = None, at: datetime) -> None:
    """Stamp a price version / rule as used by a charge (idempotent; a used price is frozen)."""
    from plans.models import PriceRule

    if version is not None and version.first_used_at is None:
        PriceVersion.objects.filter(pk=version.pk, first_used_at__isnull=True).update(first_used_at=at)
    if rule_id is not None:
        PriceRule.objects.filter(pk=rule_id, first_used_at__isnull=True).update(first_used_at=at)
