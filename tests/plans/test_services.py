"""Plan writes and price versions (DOMAIN.md 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from config.exceptions import DomainError
from plans.models import PlanStatus, PriceVersion
from plans.services import plan_create, plan_retire, plan_update, price_mark_used, price_version_add
from tests.plans.factories import PlanFactory, PriceVersionFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def code(exc: pytest.ExceptionInfo[DomainError]) -> int:
    return int(exc.value.code_for("plans"))


def test_create_update_retire(staff_user):
    plan = plan_create(
        plan_id="vol-1",
        name="Volume",
        plan_type="volume",
        billing_mode="prepaid",
        cycle="month",
        actor=staff_user,
    )
    assert plan.status == PlanStatus.ACTIVE and plan.region == ""
    with pytest.raises(DomainError) as exc:
        plan_create(plan_id="vol-1", name="x", plan_type="volume", billing_mode="prepaid", cycle="month")
    assert code(exc) == 3602
    with pytest.raises(DomainError) as exc:
        plan_create(plan_id="bad id!", name="x", plan_type="Vol", billing_mode="weekly", cycle="")
    assert code(exc) == 3307
    assert {"plan_id", "plan_type", "billing_mode", "cycle"} <= set(exc.value.errors or {})
    plan = plan_update(plan=plan, changes={"name": "Volume 1", "region": "cn-north-1"})
    plan.refresh_from_db()
    assert (plan.name, plan.region) == ("Volume 1", "cn-north-1")
    plan_retire(plan=plan)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.RETIRED


def test_used_prices_freeze_mode_and_cycle():
    plan = PlanFactory(plan_id="p1")
    version = PriceVersionFactory(plan=plan)
    plan_update(plan=plan, changes={"cycle": "day"})  # unused: fine
    price_mark_used(version_id=version.pk, at=NOW)
    with pytest.raises(DomainError) as exc:
        plan_update(plan=plan, changes={"cycle": "month"})
    assert code(exc) == 3610 and "cycle" in (exc.value.errors or {})


@pytest.mark.parametrize(
    ("cycle", "ahead", "ok"),
    [
        ("month", timedelta(days=31), True),
        ("month", timedelta(days=30), False),  # Mar 15 + 1 month = Apr 15: 30 days is too soon
        ("hour", timedelta(hours=1), True),
        ("hour", timedelta(minutes=59), False),
        ("day", timedelta(days=1), True),
        ("year", timedelta(days=364), False),
    ],
)
def test_price_version_one_cycle_ahead(staff_user, cycle, ahead, ok):
    plan = PlanFactory(plan_id="p-" + cycle, cycle=cycle)
    start = NOW + ahead
    if ok:
        version = price_version_add(plan=plan, price="12.5", effective_from=start, actor=staff_user, now=NOW)
        assert version.price == Decimal("12.5000") and version.forced is False
        return
    with pytest.raises(DomainError) as exc:
        price_version_add(plan=plan, price="12.5", effective_from=start, actor=staff_user, now=NOW)
    assert code(exc) == 3603 and "effective_from" in (exc.value.errors or {})
    assert not PriceVersion.objects.filter(plan=plan).exists()
    version = price_version_add(
        plan=plan, price="12.5", effective_from=start, actor=staff_user, now=NOW, force=True
    )
    version.refresh_from_db()
    assert version.forced is True and version.created_by == staff_user


def test_used_version_is_never_edited(staff_user):
    plan = PlanFactory(plan_id="p2")
    start = NOW + timedelta(days=40)
    v = price_version_add(plan=plan, price="1", effective_from=start, actor=staff_user, now=NOW)
    v2 = price_version_add(plan=plan, price="2", effective_from=start, actor=staff_user, now=NOW)
    assert v2.pk == v.pk and PriceVersion.objects.get(pk=v.pk).price == Decimal("2.0000")
    price_mark_used(version_id=v.pk, at=start)
    with pytest.raises(DomainError) as exc:
        price_version_add(plan=plan, price="3", effective_from=start, actor=staff_user, now=NOW, force=True)
    assert code(exc) == 3610
    assert PriceVersion.objects.get(pk=v.pk).price == Decimal("2.0000")


def test_bad_price_and_retired_plan(staff_user):
    plan = PlanFactory(plan_id="p3")
    start = NOW + timedelta(days=40)
    for bad in ("-1", "1.00001", "abc"):
        with pytest.raises(DomainError) as exc:
            price_version_add(plan=plan, price=bad, effective_from=start, actor=staff_user, now=NOW)
        assert code(exc) == 3307 and "price" in (exc.value.errors or {})
    plan_retire(plan=plan)
    with pytest.raises(DomainError) as exc:
        price_version_add(plan=plan, price="1", effective_from=start, actor=staff_user, now=NOW)
    assert code(exc) == 3609
