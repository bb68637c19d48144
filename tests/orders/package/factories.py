"""A small catalog of its own, so package-order tests never depend on demo data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import factory

from billing.models import Account, LedgerEntry
from billing.services import account_credit, account_get_or_create
from orders.package.services import package_order_create
from orders.package.specs import InstanceSpec, ProductSpec
from plans.models import BillingMode, Component, Cycle, Plan, PriceRule, Product

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("prod_id",)

    prod_id = factory.Sequence(lambda n: f"tp{n}")
    name = factory.LazyAttribute(lambda o: o.prod_id)


class ComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Component

    product = factory.SubFactory(ProductFactory)
    component_id = factory.Sequence(lambda n: f"c{n}")
    name = factory.LazyAttribute(lambda o: o.component_id)
    billing_mode = BillingMode.PREPAID
    cycle = Cycle.MONTH


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("plan_id",)

    plan_id = factory.Sequence(lambda n: f"tplan{n}")
    name = factory.LazyAttribute(lambda o: o.plan_id)
    plan_type = "resources"
    product = factory.SubFactory(ProductFactory)


class PriceRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceRule

    plan = factory.SubFactory(PlanFactory)
    component = factory.SubFactory(ComponentFactory)
    attrs = factory.LazyFunction(dict)
    price = Decimal("1")
    effective_from = EPOCH


@dataclass
class Catalog:
    product: Product
    plan: Plan
    hourly_product: Product
    hourly_plan: Plan


def make_catalog() -> Catalog:
    """``vm``: sys prepaid 30/month, cpu hourly 1.2/h (cpu=2) or 2.4/h (cpu=4), net postpaid 0.5/unit
    per hour. ``vmh``: only an hourly cpu (for "nothing to renew")."""
    vm = ProductFactory(prod_id="vm")
    plan = PlanFactory(plan_id="vm-std", product=vm)
    sys_c = ComponentFactory(
        product=vm, component_id="sys", billing_mode=BillingMode.PREPAID, cycle=Cycle.MONTH
    )
    cpu = ComponentFactory(product=vm, component_id="cpu", billing_mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
    net = ComponentFactory(
        product=vm, component_id="net", billing_mode=BillingMode.POSTPAID, cycle=Cycle.HOUR
    )
    PriceRuleFactory(plan=plan, component=sys_c, attrs={}, price=Decimal("30"))
    PriceRuleFactory(plan=plan, component=cpu, attrs={"cpu": "2"}, price=Decimal("1.2"))
    PriceRuleFactory(plan=plan, component=cpu, attrs={"cpu": "4"}, price=Decimal("2.4"))
    PriceRuleFactory(plan=plan, component=net, attrs={}, price=Decimal("0.5"))
    vmh = ProductFactory(prod_id="vmh")
    hplan = PlanFactory(plan_id="vmh-std", product=vmh)
    hcpu = ComponentFactory(
        product=vmh, component_id="cpu", billing_mode=BillingMode.HOURLY, cycle=Cycle.HOUR
    )
    PriceRuleFactory(plan=hplan, component=hcpu, attrs={}, price=Decimal("1"))
    return Catalog(product=vm, plan=plan, hourly_product=vmh, hourly_plan=hplan)


def funded_account(namespace: str = "alice", amount: str = "1000", member: Any = None) -> Account:
    account = account_get_or_create(namespace=namespace, member=member)
    if Decimal(amount) > 0:
        account_credit(
            account_id=account.pk, amount=Decimal(amount), idempotency_key=f"fund:{namespace}:{amount}"
        )
    return account


def create_order(
    account: Account,
    *,
    ext: str = "i-1",
    cpu: str = "2",
    prod: str = "vm",
    at: datetime = T0,
    auto_renew: bool = False,
) -> Any:
    plan_id = "vm-std" if prod == "vm" else "vmh-std"
    return package_order_create(
        account_id=account.pk,
        app_id="app",
        order_user_name="Alice",
        description="test",
        extra_info={},
        products=[
            ProductSpec(
                prod_id=prod,
                plan_id=plan_id,
                attrs={"cpu": cpu},
                instances=[InstanceSpec(prod_inst_id_ext=ext, is_auto_renew=auto_renew)],
            )
        ],
        at=at,
    )


def ledger_sum(account: Account) -> Decimal:
    # summed in Python: SQLite's SUM over decimals goes through floating point
    return sum(LedgerEntry.objects.filter(account=account).values_list("amount", flat=True), Decimal(0))


def assert_balanced(account: Account) -> None:
    account.refresh_from_db()
    assert account.balance == ledger_sum(account)
