"""Previews (``drytry=1``): what a money-moving operation would charge or refund, with nothing
written.

Each preview reads the same rows the operation locks, runs the same checks and the same pricing
functions (``orders.purchase.quote``, ``orders.package.quote``,
``orders.vehicle.services.cancel_refund``) that the operation then runs under its locks, and
returns the quote. No row is inserted or updated, no task is enqueued, no counter moves: the
preview takes no lock either, so the real call may still answer differently if the order changed
in between (another request, a renewal run, a new price version at the period's start).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from config.api.errors import ErrorCode
from config.exceptions import domain_error
from config.money import money4, to_money
from orders.engine.models import Subscription, SubscriptionLine
from orders.package import quote as package_quote
from orders.package.models import PackageOrder, ProductInstance
from orders.package.services import ComponentChange, ProductSpec
from orders.package.transitions import instance_row
from orders.purchase import quote as purchase_quote
from orders.purchase.models import PurchaseOrder
from orders.vehicle.models import VehicleOrder, VehicleOrderState
from orders.vehicle.services import VehicleOrderNotFound, cancel_refund, cancel_target, move_for

# --- purchase orders ----------------------------------------------------------------------------


def _purchase_order(order_pk: int) -> PurchaseOrder:
    return PurchaseOrder.objects.select_related("account", "plan", "creator").get(pk=order_pk)


def purchase_renew_preview(*, order_pk: int) -> tuple[PurchaseOrder, purchase_quote.RenewQuote]:
    """``PUT /usageapi/v1/orders/{id}`` ``action=renew``: the next period and its price."""
    order = _purchase_order(order_pk)
    purchase_quote.check_renewable(order)
    return order, purchase_quote.quote_renew(order=order)


def purchase_modify_preview(
    *, order_pk: int, plan_id: Any, at: datetime | None = None
) -> tuple[PurchaseOrder, purchase_quote.ModifyQuote]:
    """``action=modify``: the credit for the unused days, the new plan's first period, the net."""
    purchase_quote.require_plan_id(plan_id)
    order = _purchase_order(order_pk)
    return order, purchase_quote.quote_modify(order=order, plan_id=plan_id, at=at or timezone.now())


def purchase_cancel_preview(*, order_pk: int) -> PurchaseOrder:
    """``action=cancel`` through the API never refunds (the origin's rule): only the state check."""
    order = _purchase_order(order_pk)
    if order.status not in purchase_quote.RUNNING:
        raise domain_error(
            # The origin's 3318 "not found or not consuming" (issue 23.3), with Tally's 409.
            ErrorCode.NOT_FOUND,
            f"order {order.order_id} is {order.status_label}, not consuming",
            http_status=409,
        )
    return order


# --- package orders -----------------------------------------------------------------------------


def package_order_create_preview(
    *, products: list[ProductSpec], account_id: int | None, at: datetime | None = None
) -> package_quote.CreateQuote:
    """``POST /api/v1/package-orders``: the new order's cost (what its charge will take)."""
    return package_quote.quote_create(products=products, at=at or timezone.now(), account_id=account_id)


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


# --- vehicle orders -----------------------------------------------------------------------------


def _vehicle_order(order_id: uuid.UUID | str) -> VehicleOrder:
    try:
        key = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found") from exc
    order = VehicleOrder.objects.filter(order_id=key).first()
    if order is None:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found")
    return order


def _vehicle_answer(order: VehicleOrder, to_state: int, charge: Any, refund: Any) -> dict[str, Any]:
    return {
        "drytry": True,
        "order_id": str(order.order_id),
        "order_no": order.order_no,
        "state_code": order.state_code,
        "to_state_code": to_state,
        "to_state": VehicleOrderState(to_state).label,
        "charge": money4(to_money(charge)),
        "refund": money4(to_money(refund)),
    }


def vehicle_pay_preview(*, order_id: uuid.UUID | str) -> dict[str, Any]:
    """``POST /api/v1/orders/{id}/pay``: the charge is the order's ``payment``."""
    order = _vehicle_order(order_id)
    move_for(order, VehicleOrderState.PAID)
    return _vehicle_answer(order, VehicleOrderState.PAID, order.payment, 0)


def vehicle_cancel_preview(*, order_id: uuid.UUID | str, now: datetime | None = None) -> dict[str, Any]:
    """``POST /api/v1/orders/{id}/cancel``: the refund by the order's rule (full, or the unused whole
    local days once in force) and the state the cancel moves to."""
    order = _vehicle_order(order_id)
    target = cancel_target(order.state_code)
    move_for(order, target)
    info = cancel_refund(order, now or timezone.now())
    answer = _vehicle_answer(order, target, 0, info["refund"])
    answer.update({k: v for k, v in info.items() if k != "refund"})
    return answer
