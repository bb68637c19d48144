"""Reads behind the package API's answers: what the output serializers of ``api/serializers.py``
take from their context, loaded once per page or order (no query per row)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from orders.engine.models import SubscriptionLine
from orders.package.models import ConsumeOrder, ConsumeOrderRecord, PackageOrder
from usage.models import UsageRecord, UsageSource


def line_instances(records: Iterable[UsageRecord]) -> dict[int, str]:
    """Line pk -> ``prod_inst_id_ext`` of its subscription, for the lines of ``records``."""
    return dict(
        SubscriptionLine.objects.filter(pk__in={r.line_id for r in records}).values_list(
            "pk", "subscription__product_instance__prod_inst_id_ext"
        )
    )


def consume_order_bill_ids(orders: Iterable[ConsumeOrder]) -> dict[int, list[int]]:
    """Consume order pk -> the pks of the records (bills) it gathers."""
    links: dict[int, list[int]] = {}
    for co_id, rec_id in ConsumeOrderRecord.objects.filter(consume_order__in=orders).values_list(
        "consume_order_id", "record_id"
    ):
        links.setdefault(co_id, []).append(rec_id)
    return links


def bills_context(records: list[UsageRecord]) -> dict[str, Any]:
    return {"line_instances": line_instances(records)}


def consume_orders_context(orders: list[ConsumeOrder]) -> dict[str, Any]:
    return {"bill_ids": consume_order_bill_ids(orders)}


def order_detail_context(order: PackageOrder) -> dict[str, Any]:
    """The lists of an order's detail: instances with subscription and components, bills by
    period, consume orders by id (``PackageOrderDetailOutSerializer``'s context)."""
    instances = list(order.instances.select_related("subscription").prefetch_related("subscription__lines"))
    bills = list(
        UsageRecord.objects.filter(source=UsageSource.PACKAGE, order_ref=order.order_id).order_by(
            "period_start", "id"
        )
    )
    consume_orders = list(order.consume_orders.select_related("order", "instance").order_by("id"))
    return {
        "instances": instances,
        "bills": bills,
        "consume_orders": consume_orders,
        **bills_context(bills),
        **consume_orders_context(consume_orders),
    }
