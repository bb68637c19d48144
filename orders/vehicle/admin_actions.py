"""The vehicle order admin actions: cancel (refund per the rule) and underwrite (approve, or reject
with a full refund), each with a mandatory reason, over the same services as the API (no rule lives
here). The services keep the reason in the order event; ``reason_action`` adds a ``LogEntry``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from config.admin_actions import ActionOption, Choice, reason_action
from config.display import money_text
from config.exceptions import DomainError
from orders.admin_actions import selection_currency, selection_noun
from orders.vehicle.previews import vehicle_cancel_preview
from orders.vehicle.services import vehicle_order_cancel, vehicle_order_underwrite


def _admin_cancel(order: Any, *, actor: Any, reason: str) -> str:
    canceled = vehicle_order_cancel(order_id=order.order_id, actor=actor, reason=reason)
    return f"now {canceled.get_state_code_display()}"


def _admin_underwrite(order: Any, *, actor: Any, reason: str, reject: bool = False) -> str:
    done = vehicle_order_underwrite(
        order_id=order.order_id, actor=actor, result="rejected" if reject else "approved", reason=reason
    )
    return f"now {done.get_state_code_display()}"


# --- what each confirm button says (previews by the same quote functions the services use) ---------


def _describe_order(order: Any) -> str:
    paid = money_text(order.payment)
    return f"{order.order_no} · {order.account} · {order.get_state_code_display()} · paid {paid}"


def _cancel_refunds(orders: list[Any]) -> tuple[Decimal, int]:
    total, refused = Decimal(0), 0
    for order in orders:
        try:
            total += Decimal(vehicle_cancel_preview(order_id=order.order_id)["refund"])
        except DomainError:
            refused += 1
    return total, refused


def _cancel_label(orders: list[Any]) -> str:
    refund, refused = _cancel_refunds(orders)
    what = selection_noun(orders)
    note = f" ({refused} cannot be canceled)" if refused else ""
    if refund > 0:
        return f"Cancel {what} and refund {money_text(refund, selection_currency(orders))}{note}"
    return f"Cancel {what} (nothing to refund){note}"


def _underwrite_choices(orders: list[Any]) -> list[Choice]:
    refund = sum((o.payment for o in orders), Decimal(0))
    what = selection_noun(orders)
    return [
        Choice(f"Approve underwriting of {what}", {"reject": False}),
        Choice(f"Reject {what}: cancel and refund {money_text(refund, selection_currency(orders))} in full",
               {"reject": True}),
    ]  # fmt: skip


vehicle_cancel = reason_action(
    name="cancel_vehicle_orders",
    label="Cancel (refund per the rule)",
    service=_admin_cancel,
    permission="cancel",
    verb="canceled",
    confirm=_cancel_label,
    describe=_describe_order,
)
vehicle_underwrite = reason_action(
    name="underwrite_vehicle_orders",
    label="Underwrite",
    service=_admin_underwrite,
    permission="underwrite",
    verb="underwritten",
    options=[ActionOption("reject", "Reject (cancels the paid order with a full refund)")],
    choices=_underwrite_choices,
    describe=_describe_order,
)
