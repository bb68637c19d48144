"""The set-up the package coupon renewal and config-change tests share: a product ``box`` of two
prepaid monthly components (``sys`` 30 for size ``s``, 60 for ``l``; ``disk`` 10), so no hourly or
postpaid line runs beside the renewals, and accounts funded by credits that name their subject
(``ledger_audit`` wants one)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from billing.models import Account
from billing.services import account_credit, account_get_or_create
from orders.engine.models import SubscriptionLine
from orders.models import PackageOrder, ProductInstance
from orders.package.services import package_order_charge, package_order_create
from orders.package.specs import InstanceSpec, ProductSpec
from plans.models import BillingMode, Cycle
from tests.orders.package.factories import T0, ComponentFactory, PlanFactory, PriceRuleFactory, ProductFactory
from usage.models import UsageRecord


def make_box() -> None:
    box = ProductFactory(prod_id="box")
    plan = PlanFactory(plan_id="box-std", product=box)
    sys_c = ComponentFactory(
        product=box, component_id="sys", billing_mode=BillingMode.PREPAID, cycle=Cycle.MONTH
    )
    disk = ComponentFactory(
        product=box, component_id="disk", billing_mode=BillingMode.PREPAID, cycle=Cycle.MONTH
    )
    PriceRuleFactory(plan=plan, component=sys_c, attrs={"size": "s"}, price=Decimal("30"))
    PriceRuleFactory(plan=plan, component=sys_c, attrs={"size": "l"}, price=Decimal("60"))
    PriceRuleFactory(plan=plan, component=disk, attrs={}, price=Decimal("10"))


def funded(namespace: str, amount: str = "1000", member: Any = None) -> Account:
    account = account_get_or_create(namespace=namespace, member=member)
    key = f"fund:{namespace}:{account.ledger_entries.count()}"
    account_credit(account_id=account.pk, amount=Decimal(amount), idempotency_key=key, subject=("test", key))
    account.refresh_from_db()
    return account


def box_order(
    account: Account,
    *,
    ext: str = "b-1",
    coupon: str | None = None,
    size: str = "s",
    auto_renew: bool = False,
    at: datetime = T0,
) -> PackageOrder:
    """A ``box`` instance created and charged at ``at`` (the charge redeems the coupon)."""
    created = package_order_create(
        account_id=account.pk,
        app_id="app",
        order_user_name="",
        description="",
        extra_info={},
        products=[
            ProductSpec(
                prod_id="box",
                plan_id="box-std",
                attrs={"size": size},
                instances=[InstanceSpec(prod_inst_id_ext=ext, is_auto_renew=auto_renew)],
            )
        ],
        at=at,
        coupon=coupon,
    )
    package_order_charge(order_pk=created.order.pk, at=at)
    created.order.refresh_from_db()
    return created.order


def line_of(ext: str, component: str = "sys") -> SubscriptionLine:
    sub_id = ProductInstance.objects.get(prod_inst_id_ext=ext).subscription_id
    return SubscriptionLine.objects.get(subscription_id=sub_id, component_id=component)


def records_of(ext: str, component: str = "sys") -> list[UsageRecord]:
    return list(UsageRecord.objects.filter(line_id=line_of(ext, component).pk).order_by("period_start", "pk"))
