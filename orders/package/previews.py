"""Previews (``drytry=1``) of package orders: the quote the operation would charge or refund, read
without locks and with nothing written (see ``orders/purchase/previews.py`` for the rule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from orders.engine.models import Subscription, SubscriptionLine
from orders.package import quote as package_quote
from orders.package.models import PackageOrder, ProductInstance
from orders.package.specs import ComponentChange, ProductSpec
from orders.package.transitions import instance_row


def package_order_create_preview(
    *,
    products: list[ProductSpec],
    account_id: int | None,
    at: datetime | None = None,
    coupon: str | None = None,
) -> package_quote.CreateQuote:
    """``POST /api/v1/package-orders``: the new order's cost (what its charge will take, net of the
    ``coupon``'s discount)."""
    return package_quote.quote_create(
        products=products, at=at or timezone.now(), account_id=account_id, coupon=coupon
    )


@dataclass(frozen=True)
class InstanceState:
    order: PackageOrder
    instance: ProductInstance
    sub: Subscription
    lines: list[SubscriptionLine]


def _instance(ext: str, account_id: int | None) -> InstanceState:
    """The rows ``orders.package.transitions.instance_lock`` locks, read without locks."""
    instance = ProductInstance.objects.select_related("order").get(pk=instance_row(ext, account_id)["pk"])
    sub = Subscription.objects.get(pk=instance.subscription_id)
    lines = list(SubscriptionLine.objects.filter(subscription=sub).select_related("plan").order_by("pk"))
    for line in lines:
        line.subscription = sub
    return InstanceState(order=instance.order, instance=instance, sub=sub, lines=lines)


def instance_renew_preview(
    *, prod_inst_id_ext: str, duration: str, account_id: int | None = None
) -> tuple[InstanceState, package_quote.RenewQuote]:
    """``POST /api/v1/instances/{id}/renew``: the prepaid components' next ``duration`` cycles."""
    state = _instance(prod_inst_id_ext, account_id)
    prepaid = package_quote.renewable_lines(instance=state.instance, lines=state.lines)
    quote = package_quote.quote_renew(
        instance=state.instance, sub=state.sub, prepaid=prepaid, duration=duration
    )
    return state, quote


def instance_change_config_preview(
    *,
    prod_inst_id_ext: str,
    plan_id: str,
    changes: list[ComponentChange],
    at: datetime | None = None,
    account_id: int | None = None,
) -> tuple[InstanceState, package_quote.ChangeQuote]:
    """``POST /api/v1/instances/{id}/change-config``: the prorated difference, charged or refunded."""
    state = _instance(prod_inst_id_ext, account_id)
    quote = package_quote.quote_change(
        instance=state.instance, lines=state.lines, plan_id=plan_id, changes=changes, at=at or timezone.now()
    )
    return state, quote
