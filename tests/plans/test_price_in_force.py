"""The price at t is the latest version with effective_from <= t (DOMAIN.md 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plans.models import PriceVersion
from plans.selectors import price_in_force, price_version_in_force
from tests.plans.factories import PlanFactory

pytestmark = pytest.mark.django_db
BASE = datetime(2026, 1, 1, tzinfo=UTC)
TICK = timedelta(microseconds=1)


def test_at_just_before_and_just_after_each_boundary():
    plan = PlanFactory(plan_id="p")
    starts = [BASE, BASE + timedelta(days=31), BASE + timedelta(days=59, hours=3)]
    prices = [Decimal("10.0000"), Decimal("12.0000"), Decimal("9.5000")]
    for start, price in zip(starts, prices, strict=True):
        PriceVersion.objects.create(plan=plan, price=price, effective_from=start)
    assert price_in_force(plan, BASE - TICK) is None  # before the first version: no price
    for i, start in enumerate(starts):
        assert price_in_force(plan, start) == prices[i]
        assert price_in_force(plan, start + TICK) == prices[i]
        if i:
            assert price_in_force(plan, start - TICK) == prices[i - 1]
    assert price_in_force(plan, BASE + timedelta(days=10_000)) == prices[-1]
    assert price_version_in_force(plan, starts[1]).effective_from == starts[1]  # type: ignore[union-attr]


def reference(versions: list[tuple[datetime, Decimal]], at: datetime) -> Decimal | None:
    """Brute force: of the versions starting at or before ``at``, the one with the latest start."""
    best: tuple[datetime, Decimal] | None = None
    for start, price in versions:
        if start <= at and (best is None or start > best[0]):
            best = (start, price)
    return best[1] if best else None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    versions=st.dictionaries(
        st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10**6), max_size=8
    ),
    probes=st.lists(st.integers(min_value=-10, max_value=10_010), max_size=10),
)
def test_matches_brute_force(versions, probes):
    plan = PlanFactory(plan_id="prop")
    PriceVersion.objects.filter(plan=plan).delete()
    rows = [(BASE + timedelta(minutes=m), Decimal(cents) / 100) for m, cents in versions.items()]
    for start, price in rows:
        PriceVersion.objects.create(plan=plan, price=price, effective_from=start)
    # Every boundary, one microsecond either side of it, and random probes.
    points = {t for start, _ in rows for t in (start - TICK, start, start + TICK)}
    points |= {BASE + timedelta(minutes=m) for m in probes}
    for at in sorted(points):
        assert price_in_force(plan, at) == reference(rows, at), (versions, at)
