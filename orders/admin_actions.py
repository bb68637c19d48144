"""The order admin actions: cancel, renew and underwrite with a mandatory reason, built with
``config.admin_actions.reason_action`` over the same services as the API (no rule lives here).
The services keep the reason in the order event (``data.note``); the action adds a ``LogEntry``.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from config.admin_actions import CONFIRM_FIELD, ActionOption, ReasonForm, reason_action
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
    return f"refunded {refund}" if refund > 0 else "no refund"


def _purchase_renew(order: Any, *, actor: Any, reason: str) -> str:
    from orders.purchase.services import purchase_order_renew

    result = purchase_order_renew(order_pk=order.pk, actor=actor, note=reason)
    return f"charged {result.money}, paid until {result.period_end:%Y-%m-%d %H:%M}"


def _package_cancel(order: Any, *, actor: Any, reason: str) -> str:
    from orders.package.services import package_order_cancel

    canceled = package_order_cancel(order_pk=order.pk, actor=actor, note=reason)
    return f"status {canceled.status}"


def _package_renew(order: Any, *, actor: Any, reason: str) -> str:
    """Renew every running or paused instance of the order (one charge per instance)."""
    from orders.models import InstanceStatus
    from orders.package.services import instance_renew

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
        renewed.append(f"{instance.prod_inst_id_ext} charged {result.amount_payable}")
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
)
purchase_renew = reason_action(
    name="renew_purchase_orders",
    label="Renew (charge the next period now)",
    service=_purchase_renew,
    permission="renew",
    verb="renewed",
)
package_cancel = reason_action(
    name="cancel_package_orders",
    label="Cancel (unpaid orders only)",
    service=_package_cancel,
    permission="cancel",
    verb="canceled",
)
package_renew = reason_action(
    name="renew_package_orders",
    label="Renew the prepaid components of every running instance",
    service=_package_renew,
    permission="renew",
    verb="renewed",
)
vehicle_cancel = reason_action(
    name="cancel_vehicle_orders",
    label="Cancel (refund per the rule)",
    service=_vehicle_cancel,
    permission="cancel",
    verb="canceled",
)
vehicle_underwrite = reason_action(
    name="underwrite_vehicle_orders",
    label="Underwrite",
    service=_vehicle_underwrite,
    permission="underwrite",
    verb="underwritten",
    options=[ActionOption("reject", "Reject (cancels the paid order with a full refund)")],
)
