"""The order admin actions: cancel, renew and underwrite with a mandatory reason, built with
``config.admin_actions.reason_action`` over the same services as the API (no rule lives here).
The services keep the reason in the order event (``data.note``); the action adds a ``LogEntry``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from config.admin_actions import CONFIRM_FIELD, ActionOption, Choice, ReasonForm, reason_action
from config.display import local_time, money_text
from config.exceptions import DomainError, InvalidTransition

__all__ = [
    "CONFIRM_FIELD",
    "ActionOption",
    "OrderActionPermissionsMixin",
    "ReasonForm",
    "reason_action",
]


class OrderActionPermissionsMixin:
    """``has_<action>_permission`` for the reason actions' ``allowed_permissions``.

    Each action is gated on ``<app>.<action>_<model>`` (e.g. ``orders.cancel_purchaseorder``), created
    by the Finance migration or declared in the model's Meta. Superusers pass as always.
    """

    def _has_action_permission(self, request: HttpRequest, action: str) -> bool:
        opts = self.model._meta  # type: ignore[attr-defined]
        return bool(request.user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}"))

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return self._has_action_permission(request, "cancel")

    def has_renew_permission(self, request: HttpRequest) -> bool:
        return self._has_action_permission(request, "renew")

    def has_underwrite_permission(self, request: HttpRequest) -> bool:
        return self._has_action_permission(request, "underwrite")


# --- the order actions (service adapters) ---------------------------------------------------------
# Imports are local: the admin modules import this file at autodiscovery, the services import models.


def _purchase_cancel(order: Any, *, actor: Any, reason: str, refund_unused: bool = False) -> str:
    from orders.purchase.services import purchase_order_cancel

    _, refund = purchase_order_cancel(
        order_pk=order.pk, actor=actor, refund_unused=refund_unused, reason=reason
    )
    return f"refunded {money_text(refund, order.account.currency)}" if refund > 0 else "no refund"


def _purchase_renew(order: Any, *, actor: Any, reason: str) -> str:
    from orders.purchase.services import purchase_order_renew

    result = purchase_order_renew(order_pk=order.pk, actor=actor, note=reason)
    money = money_text(result.money, order.account.currency)
    return f"charged {money}, paid until {local_time(result.period_end)}"


def _package_cancel(order: Any, *, actor: Any, reason: str) -> str:
    from orders.package.services import package_order_cancel

    canceled = package_order_cancel(order_pk=order.pk, actor=actor, note=reason)
    return f"status {canceled.status}"


def _package_renew(order: Any, *, actor: Any, reason: str) -> str:
    """Renew every running or paused instance of the order (one charge per instance)."""
    from orders.models import InstanceStatus
    from orders.package.instances import instance_renew

    instances = list(
        order.instances.filter(status__in=[InstanceStatus.RUNNING, InstanceStatus.PAUSED]).order_by("pk")
    )
    if not instances:
        raise InvalidTransition(f"order {order} has no running or paused instance to renew")
    renewed: list[str] = []
    refusals: list[str] = []
    for instance in instances:
        try:
            result = instance_renew(
                prod_inst_id_ext=instance.prod_inst_id_ext,
                account_id=instance.account_id,
                actor=actor,
                note=reason,
            )
        except DomainError as exc:
            refusals.append(f"{instance.prod_inst_id_ext}: {exc.message}")
            continue
        renewed.append(
            f"{instance.prod_inst_id_ext} charged {money_text(result.amount_payable, order.account.currency)}"
        )
    if not renewed:
        raise InvalidTransition("; ".join(refusals))
    return "; ".join(renewed + [f"refused {r}" for r in refusals])


def _vehicle_cancel(order: Any, *, actor: Any, reason: str) -> str:
    from orders.vehicle.services import vehicle_order_cancel

    canceled = vehicle_order_cancel(order_id=order.order_id, actor=actor, reason=reason)
    return f"now {canceled.get_state_code_display()}"


def _vehicle_underwrite(order: Any, *, actor: Any, reason: str, reject: bool = False) -> str:
    from orders.vehicle.services import vehicle_order_underwrite

    done = vehicle_order_underwrite(
        order_id=order.order_id, actor=actor, result="rejected" if reject else "approved", reason=reason
    )
    return f"now {done.get_state_code_display()}"


# --- what each confirm button says (previews by the same quote functions the services use) ---------


def _what(orders: list[Any]) -> str:
    return "order" if len(orders) == 1 else f"{len(orders)} orders"


def _currency(orders: list[Any]) -> str:
    return str(orders[0].account.currency) if orders and getattr(orders[0], "account_id", None) else ""


def _describe_purchase(order: Any) -> str:
    return (
        f"{order.order_id} · {order.account} · {order.plan} · {order.resource_name or '-'} · "
        f"{order.status_label}, paid until {local_time(order.deadline)}"
    )


def _describe_vehicle(order: Any) -> str:
    paid = money_text(order.payment)
    return f"{order.order_no} · {order.account} · {order.get_state_code_display()} · paid {paid}"


def _purchase_refunds(orders: list[Any]) -> Decimal:
    """The unused days' credit a cancel with refund would give now (prepaid lines only)."""
    from orders.purchase.quote import order_line, unused_credit
    from plans.models import BillingMode

    at = timezone.now()
    total = Decimal(0)
    for order in orders:
        line = order_line(order)
        if line is not None and line.billing_mode == BillingMode.PREPAID:
            total += unused_credit(line=line, at=at)
    return total


def _purchase_cancel_choices(orders: list[Any]) -> list[Choice]:
    refund = _purchase_refunds(orders)
    what = _what(orders)
    if refund > 0:
        return [
            Choice(
                f"Cancel {what} and refund {money_text(refund, _currency(orders))}", {"refund_unused": True}
            ),
            Choice(f"Cancel {what}, no refund", {"refund_unused": False}),
        ]
    return [Choice(f"Cancel {what} (nothing to refund)", {"refund_unused": False})]


def _purchase_renew_label(orders: list[Any]) -> str:
    from orders.purchase.quote import quote_renew

    total, refused = Decimal(0), 0
    for order in orders:
        try:
            total += quote_renew(order=order).money
        except DomainError:
            refused += 1
    note = f" ({refused} cannot be renewed)" if refused else ""
    return f"Renew {_what(orders)} now: charge {money_text(total, _currency(orders))}{note}"


def _vehicle_refunds(orders: list[Any]) -> tuple[Decimal, int]:
    from orders.vehicle.previews import vehicle_cancel_preview

    total, refused = Decimal(0), 0
    for order in orders:
        try:
            total += Decimal(vehicle_cancel_preview(order_id=order.order_id)["refund"])
        except DomainError:
            refused += 1
    return total, refused


def _vehicle_cancel_label(orders: list[Any]) -> str:
    refund, refused = _vehicle_refunds(orders)
    note = f" ({refused} cannot be canceled)" if refused else ""
    if refund > 0:
        return f"Cancel {_what(orders)} and refund {money_text(refund, _currency(orders))}{note}"
    return f"Cancel {_what(orders)} (nothing to refund){note}"


def _vehicle_underwrite_choices(orders: list[Any]) -> list[Choice]:
    refund = sum((o.payment for o in orders), Decimal(0))
    return [
        Choice(f"Approve underwriting of {_what(orders)}", {"reject": False}),
        Choice(f"Reject {_what(orders)}: cancel and refund {money_text(refund, _currency(orders))} in full",
               {"reject": True}),
    ]  # fmt: skip


purchase_cancel = reason_action(
    name="cancel_purchase_orders",
    label="Cancel",
    service=_purchase_cancel,
    permission="cancel",
    verb="canceled",
    options=[
        ActionOption(
            "refund_unused",
            "Refund the unused days",
            help_text="Prepaid orders only: credits the unused part of the paid period to the wallet.",
        )
    ],
    choices=_purchase_cancel_choices,
    describe=_describe_purchase,
)
purchase_renew = reason_action(
    name="renew_purchase_orders",
    label="Renew (charge the next period now)",
    service=_purchase_renew,
    permission="renew",
    verb="renewed",
    confirm=_purchase_renew_label,
    describe=_describe_purchase,
)
package_cancel = reason_action(
    name="cancel_package_orders",
    label="Cancel (unpaid orders only)",
    service=_package_cancel,
    permission="cancel",
    verb="canceled",
    confirm=lambda orders: f"Cancel {_what(orders)} (unpaid orders only: nothing was charged)",
)
package_renew = reason_action(
    name="renew_package_orders",
    label="Renew the prepaid components of every running instance",
    service=_package_renew,
    permission="renew",
    verb="renewed",
    confirm=lambda orders: f"Renew the running instances of {_what(orders)}: charge their prepaid components",
)
vehicle_cancel = reason_action(
    name="cancel_vehicle_orders",
    label="Cancel (refund per the rule)",
    service=_vehicle_cancel,
    permission="cancel",
    verb="canceled",
    confirm=_vehicle_cancel_label,
    describe=_describe_vehicle,
)
vehicle_underwrite = reason_action(
    name="underwrite_vehicle_orders",
    label="Underwrite",
    service=_vehicle_underwrite,
    permission="underwrite",
    verb="underwritten",
    options=[ActionOption("reject", "Reject (cancels the paid order with a full refund)")],
    choices=_vehicle_underwrite_choices,
    describe=_describe_vehicle,
)
