"""Purchase orders: the one map of allowed status changes and the functions that make one.

``order_transition`` locks (account, then order), checks the map, writes the new status and the
fields the caller names, and appends a ``PurchaseOrderEvent``. The set-based renewal writer moves
many locked orders at once through ``order_move_in_bulk``, which checks the same map for every row
and builds the same event. A same-status move records an action (a renewal of a consuming order).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.locks import account_then_row
from orders.purchase.errors import PurchaseOrderStateError
from orders.purchase.models import PurchaseOrder, PurchaseOrderEvent, PurchaseOrderStatus
from plans.models import Plan

TRANSITIONS: dict[int, frozenset[int]] = {
    PurchaseOrderStatus.PENDING: frozenset({PurchaseOrderStatus.CONSUMING, PurchaseOrderStatus.ENDED}),
    PurchaseOrderStatus.CONSUMING: frozenset(
        {PurchaseOrderStatus.CONSUMING, PurchaseOrderStatus.RENEWALFAILED, PurchaseOrderStatus.ENDED}
    ),
    PurchaseOrderStatus.RENEWALFAILED: frozenset(
        {PurchaseOrderStatus.CONSUMING, PurchaseOrderStatus.RENEWALFAILED, PurchaseOrderStatus.ENDED}
    ),
    PurchaseOrderStatus.ENDED: frozenset(),
}


def order_get_locked(order_pk: int) -> PurchaseOrder:
    """Lock the account row, then the order row (the fixed lock order)."""
    # Not select_related("plan"): under FOR UPDATE the join would lock the plan row too, which
    # every order of that plan shares, and serialize them all (B1).
    order = account_then_row(PurchaseOrder, order_pk)
    order.plan = Plan.objects.get(pk=order.plan_id)
    return order


def order_event(
    order: PurchaseOrder,
    *,
    from_status: int | None,
    to: int,
    reason: str,
    actor: Any,
    at: datetime,
    data: Any,
) -> PurchaseOrderEvent:
    """The event of one move, unsaved (``order_event_append`` saves one, the bulk writer many)."""
    return PurchaseOrderEvent(
        order=order,
        actor=actor if getattr(actor, "pk", None) else None,
        time=at,
        from_status=from_status,
        to_status=to,
        reason=reason,
        data=data or {},
    )


def order_event_append(
    order: PurchaseOrder,
    *,
    from_status: int | None,
    to: int,
    reason: str,
    actor: Any,
    at: datetime,
    data: Any,
) -> None:
    order_event(order, from_status=from_status, to=to, reason=reason, actor=actor, at=at, data=data).save()


def _refuse_unless_allowed(
    order: PurchaseOrder, from_status: int, to: int, refused: type[PurchaseOrderStateError]
) -> None:
    if to not in TRANSITIONS[from_status]:
        raise refused(
            f"order {order.order_id} is {PurchaseOrderStatus(from_status).label}: "
            f"cannot become {PurchaseOrderStatus(to).label}",
            status=PurchaseOrderStatus(from_status).label,
        )


def order_transition(
    *,
    order_pk: int,
    to: int,
    reason: str,
    actor: Any = None,
    at: datetime | None = None,
    data: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    refused: type[PurchaseOrderStateError] = PurchaseOrderStateError,
) -> PurchaseOrder:
    """THE status change of a purchase order: lock (account, then order), check ``TRANSITIONS``,
    write the new status and ``fields``, append an event. A move outside the map raises ``refused``
    (the operation's 409 error)."""
    at = at or timezone.now()
    with transaction.atomic():
        order = order_get_locked(order_pk)
        before = order.status
        _refuse_unless_allowed(order, before, to, refused)
        order.status = to
        for name, value in (fields or {}).items():
            setattr(order, name, value)
        order.save()
        order_event_append(order, from_status=before, to=to, reason=reason, actor=actor, at=at, data=data)
        return order


def order_move_in_bulk(
    order: PurchaseOrder, *, from_status: int, to: int, reason: str, at: datetime, data: dict[str, Any]
) -> PurchaseOrderEvent:
    """One row of a set-based move of orders the caller has locked: check ``TRANSITIONS`` (a
    refused row raises and rolls the whole chunk back), set the status, and return the unsaved
    event; the caller writes the orders and the events with one statement each."""
    _refuse_unless_allowed(order, from_status, to, PurchaseOrderStateError)
    order.status = to
    return order_event(order, from_status=from_status, to=to, reason=reason, actor=None, at=at, data=data)
