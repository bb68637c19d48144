"""The purchase order admin actions: cancel (with or without the unused days' refund) and renew now,
each with a mandatory reason, over the same services as the API (no rule lives here). The services
keep the reason in the order event; ``reason_action`` adds a ``LogEntry``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils import timezone

from config.admin_actions import ActionOption, Choice, reason_action
from config.display import local_time, money_text
from config.exceptions import DomainError
from orders.admin_actions import selection_currency, selection_noun
from orders.purchase.quote import order_line, quote_renew, unused_credit
from orders.purchase.services import purchase_order_cancel, purchase_order_renew
from plans.models import BillingMode


def _admin_cancel(order: Any, *, actor: Any, reason: str, refund_unused: bool = False) -> str:
    _, refund = purchase_order_cancel(
        order_pk=order.pk, actor=actor, refund_unused=refund_unused, reason=reason
    )
    return f"refunded {money_text(refund, order.account.currency)}" if refund > 0 else "no refund"


def _admin_renew(order: Any, *, actor: Any, reason: str) -> str:
    result = purchase_order_renew(order_pk=order.pk, actor=actor, note=reason)
    money = money_text(result.money, order.account.currency)
    return f"charged {money}, paid until {local_time(result.period_end)}"


# --- what each confirm button says (previews by the same quote functions the services use) ---------


def _describe_order(order: Any) -> str:
    return (
        f"{order.order_id} · {order.account} · {order.plan} · {order.resource_name or '-'} · "
        f"{order.status_label}, paid until {local_time(order.deadline)}"
    )


def _unused_days_refund(orders: list[Any]) -> Decimal:
    """The unused days' credit a cancel with refund would give now (prepaid lines only)."""
    at = timezone.now()
    total = Decimal(0)
    for order in orders:
        line = order_line(order)
        if line is not None and line.billing_mode == BillingMode.PREPAID:
            total += unused_credit(line=line, at=at)
    return total


def _cancel_choices(orders: list[Any]) -> list[Choice]:
    refund = _unused_days_refund(orders)
    what = selection_noun(orders)
    if refund > 0:
        return [
            Choice(
                f"Cancel {what} and refund {money_text(refund, selection_currency(orders))}",
                {"refund_unused": True},
            ),
            Choice(f"Cancel {what}, no refund", {"refund_unused": False}),
        ]
    return [Choice(f"Cancel {what} (nothing to refund)", {"refund_unused": False})]


def _renew_label(orders: list[Any]) -> str:
    total, refused = Decimal(0), 0
    for order in orders:
        try:
            total += quote_renew(order=order).money
        except DomainError:
            refused += 1
    note = f" ({refused} cannot be renewed)" if refused else ""
    return f"Renew {selection_noun(orders)} now: charge {money_text(total, selection_currency(orders))}{note}"


purchase_cancel = reason_action(
    name="cancel_purchase_orders",
    label="Cancel",
    service=_admin_cancel,
    permission="cancel",
    verb="canceled",
    options=[
        ActionOption(
            "refund_unused",
            "Refund the unused days",
            help_text="Prepaid orders only: credits the unused part of the paid period to the wallet.",
        )
    ],
    choices=_cancel_choices,
    describe=_describe_order,
)
purchase_renew = reason_action(
    name="renew_purchase_orders",
    label="Renew (charge the next period now)",
    service=_admin_renew,
    permission="renew",
    verb="renewed",
    confirm=_renew_label,
    describe=_describe_order,
)
