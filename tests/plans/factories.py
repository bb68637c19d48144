"""Factories for the catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import factory

from plans.models import (
    BillingMode,
    Component,
    Cycle,
    Plan,
    PriceRule,
    PriceVersion,
    Product,
    Promotion,
    PromotionDuration,
    PromotionKind,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("prod_id",)

    prod_id = factory.Sequence(lambda n: f"prod{n}")
    name = factory.LazyAttribute(lambda o: o.prod_id.upper())


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component

    product = factory.SubFactory(ProductFactory)
    component_id = factory.Sequence(lambda n: f"comp{n}")
    name = factory.LazyAttribute(lambda o: o.component_id)
    billing_mode = BillingMode.HOURLY
    cycle = Cycle.HOUR
    unit = "instance"


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("plan_id",)

    plan_id = factory.Sequence(lambda n: f"plan-{n}")
    name = factory.LazyAttribute(lambda o: o.plan_id)
    plan_type = "volume"
    region = ""
    billing_mode = BillingMode.PREPAID
    cycle = Cycle.MONTH
    unit = "instance"


class PriceVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceVersion

    plan = factory.SubFactory(PlanFactory)
    price = Decimal("10.0000")
    effective_from = START


class PriceRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceRule

    plan = factory.SubFactory(PlanFactory)
    component = factory.SubFactory(ComponentFactory)
    attrs = factory.LazyFunction(dict)
    price = Decimal("1.0000")
    effective_from = START


class PromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Promotion

    code = factory.Sequence(lambda n: f"PROMO{n}")
    name = factory.LazyAttribute(lambda o: o.code)
    kind = PromotionKind.PERCENT
    value = Decimal("10")
    duration = PromotionDuration.ONCE
