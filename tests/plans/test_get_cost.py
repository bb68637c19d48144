"""get_cost: exactly one rule in force must match each component (DOMAIN.md 3)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.exceptions import DomainError
from plans.models import BillingMode, Component, Cycle, PlanStatus, PriceRule
from plans.selectors import get_cost, plan_item_get, plan_items_for
from tests.plans.factories import START, ComponentFactory, PlanFactory, PriceRuleFactory, ProductFactory

pytestmark = pytest.mark.django_db
AT = START + timedelta(days=10)


@pytest.fixture
def ecs():
    product = ProductFactory(prod_id="ecs")
    cpu = ComponentFactory(
        product=product, component_id="cpu", billing_mode=BillingMode.HOURLY, cycle=Cycle.HOUR
    )
    disk = ComponentFactory(
        product=product, component_id="disk", billing_mode=BillingMode.PREPAID, cycle=Cycle.MONTH, unit="GB"
    )
    plan = PlanFactory(plan_id="ecs-std", product=product, billing_mode="", cycle="")
    PriceRuleFactory(plan=plan, component=cpu, attrs={"cores": 2}, price=Decimal("0.1000"))
    PriceRuleFactory(plan=plan, component=cpu, attrs={"cores": 4}, price=Decimal("0.2000"))
    PriceRuleFactory(plan=plan, component=disk, attrs={"disk_type": "ssd"}, price=Decimal("5.0000"))
    PriceRuleFactory(plan=plan, component=disk, attrs={"disk_type": "hdd"}, price=Decimal("2.0000"))
    return plan


def cost(components, at=AT, plan_id="ecs-std", prod_id="ecs"):
    return get_cost(prod_id=prod_id, plan_id=plan_id, components=components, at=at)


def test_one_match_per_component(ecs):
    result = cost(
        [
            {"component_id": "cpu", "attrs": {"cores": "4", "extra": "ignored"}},
            {"component_id": "disk", "attrs": {"disk_type": "ssd"}},
        ]
    )
    assert [(c.component_id, c.price, c.billing_mode, c.cycle) for c in result.components] == [
        ("cpu", Decimal("0.2000"), "hourly", "hour"),
        ("disk", Decimal("5.0000"), "prepaid", "month"),
    ]
    assert result.total == Decimal("5.2000")
    assert result.components[0].rule_id == ecs.rules.get(attrs={"cores": 4}).pk


def test_zero_matches_names_component_and_attrs(ecs):
    with pytest.raises(DomainError) as exc:
        cost(
            [
                {"component_id": "disk", "attrs": {"disk_type": "ssd"}},
                {"component_id": "cpu", "attrs": {"cores": 8}},
            ]
        )
    err = exc.value
    assert err.code_for("plans") == 3604
    assert "cpu" in err.message and '"cores": 8' in err.message
    assert list(err.errors) == ["components[1].attrs"]


def test_two_matches_is_ambiguous(ecs):
    cpu = ecs.product.components.get(component_id="cpu")
    PriceRuleFactory(plan=ecs, component=cpu, attrs={"gen": "x"}, price=Decimal("0.3000"))
    with pytest.raises(DomainError) as exc:
        cost([{"component_id": "cpu", "attrs": {"cores": 2, "gen": "x"}}])
    err = exc.value
    assert err.code_for("plans") == 3605
    assert "cpu" in err.message and '"gen": "x"' in err.message
    assert "components[0].attrs" in err.errors


def test_only_versions_in_force_count(ecs):
    cpu = ecs.product.components.get(component_id="cpu")
    later = AT + timedelta(days=5)
    PriceRuleFactory(
        plan=ecs, component=cpu, attrs={"cores": 2}, price=Decimal("0.1500"), effective_from=later
    )
    req = [{"component_id": "cpu", "attrs": {"cores": 2}}]
    assert cost(req).total == Decimal("0.1000")
    assert cost(req, at=later - timedelta(microseconds=1)).total == Decimal("0.1000")
    assert cost(req, at=later).total == Decimal("0.1500")
    with pytest.raises(DomainError) as exc:
        cost(req, at=START - timedelta(seconds=1))
    assert exc.value.code_for("plans") == 3604


def test_unknown_product_plan_component_and_retired(ecs):
    req = [{"component_id": "cpu", "attrs": {"cores": 2}}]
    for kwargs, code in [({"prod_id": "nope"}, 3606), ({"plan_id": "nope"}, 3601)]:
        with pytest.raises(DomainError) as exc:
            cost(req, **kwargs)
        assert exc.value.code_for("plans") == code
    with pytest.raises(DomainError) as exc:
        cost([{"component_id": "gpu", "attrs": {}}])
    assert exc.value.code_for("plans") == 3604 and "gpu" in exc.value.message
    ecs.status = PlanStatus.RETIRED
    ecs.save()
    with pytest.raises(DomainError) as exc:
        cost(req)
    assert exc.value.code_for("plans") == 3609


def test_plan_item_lookups():
    import uuid

    from plans.models import PlanItem

    plan = PlanFactory(plan_id="car-basic", plan_type="vehicle")
    item = PlanItem.objects.create(plan=plan, piid=uuid.uuid4(), name="gps", price=Decimal("99.0000"))
    assert plan_item_get(str(item.piid)) == item
    assert plan_items_for("car-basic") == [item]
    for bad in ("not-a-uuid", uuid.uuid4()):
        with pytest.raises(DomainError) as exc:
            plan_item_get(bad)
        assert exc.value.code_for("plans") == 3601


ATTR_VALUES = st.sampled_from(["1", "2", "ssd"])
rule_strategy = st.tuples(
    st.dictionaries(st.sampled_from(["cores", "disk_type"]), ATTR_VALUES, max_size=2),  # attrs
    st.integers(min_value=0, max_value=30),  # start day
    st.integers(min_value=0, max_value=999),  # price (cents)
)


def brute_force(rules: list[tuple[dict, int, int]], given_attrs: dict, day: int) -> list[int]:
    """Prices of the matching rules in force: latest start per distinct attrs set, then match."""
    latest: dict[tuple, tuple[int, int, int]] = {}
    for index, (attrs, start, cents) in enumerate(rules):
        key = tuple(sorted((k, str(v)) for k, v in attrs.items()))
        if start <= day and (key not in latest or (start, index) > latest[key][:2]):
            latest[key] = (start, index, cents)
    return sorted(
        cents
        for key, (_, _, cents) in latest.items()
        if all(str(given_attrs.get(k)) == v and k in given_attrs for k, v in key)
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rules=st.lists(rule_strategy, max_size=6),
    given_attrs=st.dictionaries(st.sampled_from(["cores", "disk_type", "x"]), ATTR_VALUES, max_size=3),
    day=st.integers(min_value=0, max_value=31),
)
def test_get_cost_matches_brute_force(rules, given_attrs, day):
    product = ProductFactory(prod_id="prop")
    component = Component.objects.get_or_create(
        product=product, component_id="c", defaults={"name": "c", "billing_mode": "hourly", "cycle": "hour"}
    )[0]
    plan = PlanFactory(plan_id="prop-plan", product=product, billing_mode="", cycle="")
    PriceRule.objects.filter(plan=plan).delete()
    for attrs, start, cents in rules:
        PriceRuleFactory(
            plan=plan,
            component=component,
            attrs=attrs,
            price=Decimal(cents) / 100,
            effective_from=START + timedelta(days=start),
        )
    expected = brute_force(rules, given_attrs, day)
    at = START + timedelta(days=day)
    req = [{"component_id": "c", "attrs": given_attrs}]
    if len(expected) == 1:
        assert (
            get_cost(prod_id="prop", plan_id="prop-plan", components=req, at=at).total
            == Decimal(expected[0]) / 100
        )
    else:
        with pytest.raises(DomainError) as exc:
            get_cost(prod_id="prop", plan_id="prop-plan", components=req, at=at)
        assert exc.value.code_for("plans") == (3604 if not expected else 3605)
