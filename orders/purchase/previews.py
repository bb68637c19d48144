"""Previews (``drytry=1``): what a money-moving operation would charge or refund, with nothing
written (purchase orders; each family has its own ``previews.py``).

Each preview reads the same rows the operation locks, runs the same checks and the same pricing
functions (``orders.purchase.quote``, ``orders.package.quote``,
``orders.vehicle.transitions.cancel_refund``) that the operation then runs under its locks, and
returns the quote. No row is inserted or updated, no task is enqueued, no counter moves: the
preview takes no lock either, so the real call may still answer differently if the order changed
in between (another request, a renewal run, a new price version at the period's start).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from orders.purchase import quote as purchase_quote
from orders.purchase.models import PurchaseOrder


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
    purchase_quote.check_cancelable(order)
    return order
