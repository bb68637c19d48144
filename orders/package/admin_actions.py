"""The package order admin actions: cancel an unpaid order and renew every running instance, each
with a mandatory reason, over the same services as the API (no rule lives here). The services keep
the reason in the order event; ``reason_action`` adds a ``LogEntry``.
"""

from __future__ import annotations

from typing import Any

from config.admin_actions import reason_action
from config.display import money_text
from config.exceptions import DomainError, InvalidTransition
from orders.admin_actions import selection_noun
from orders.package.instances import instance_renew
from orders.package.models import InstanceStatus
from orders.package.services import package_order_cancel


def _admin_cancel(order: Any, *, actor: Any, reason: str) -> str:
    canceled = package_order_cancel(order_pk=order.pk, actor=actor, note=reason)
    return f"status {canceled.status}"


def _admin_renew(order: Any, *, actor: Any, reason: str) -> str:
    """Renew every running or paused instance of the order (one charge per instance)."""
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


package_cancel = reason_action(
    name="cancel_package_orders",
    label="Cancel (unpaid orders only)",
    service=_admin_cancel,
    permission="cancel",
    verb="canceled",
    confirm=lambda orders: f"Cancel {selection_noun(orders)} (unpaid orders only: nothing was charged)",
)
package_renew = reason_action(
    name="renew_package_orders",
    label="Renew the prepaid components of every running instance",
    service=_admin_renew,
    permission="renew",
    verb="renewed",
    confirm=lambda orders: (
        f"Renew the running instances of {selection_noun(orders)}: charge their prepaid components"
    ),
)
