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

