"""Package orders and their instances: the moves each may make, and the functions that make one.

A move locks the rows in the fixed order (account, order, instance, its subscription and lines),
checks the current status against the map, runs what the move does to the subscription, lines and
money, writes the new status and appends a ``PackageOrderEvent``, all in the caller's transaction.
Asking for the status a row already has is a replay: nothing is written. Operations that do not
change a status (renew, change config) lock the same way and append an event without a move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from billing.locks import account_lock, account_then_row
from config.exceptions import InvalidInput
from orders.engine.models import Subscription, SubscriptionLine
from orders.package.errors import PackageInstanceNotFound, PackageInstanceStateError, PackageOrderStateError
from orders.package.models import (
    InstanceStatus,
    PackageOrder,
    PackageOrderEvent,
    PackageOrderStatus,
    ProductInstance,
)

# (from, to) -> the operation that makes the move; a move is allowed only for its operation (a
# pending instance becomes running when its order is paid, not by "resume").
ORDER_MOVES: dict[tuple[str, str], str] = {
    (PackageOrderStatus.UNPAID, PackageOrderStatus.PAID): "charge",
    (PackageOrderStatus.UNPAID, PackageOrderStatus.CANCELED): "cancel",
}
INSTANCE_MOVES: dict[tuple[str, str], str] = {
    (InstanceStatus.PENDING, InstanceStatus.RUNNING): "charge",
    # canceled with its unpaid order, in one UPDATE: the order's event covers the instances
    (InstanceStatus.PENDING, InstanceStatus.CANCELED): "cancel",
    (InstanceStatus.RUNNING, InstanceStatus.PAUSED): "pause",
    (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED): "suspend",
    (InstanceStatus.RUNNING, InstanceStatus.STOPPED): "stop",
    (InstanceStatus.PAUSED, InstanceStatus.RUNNING): "resume",
    (InstanceStatus.PAUSED, InstanceStatus.STOPPED): "stop",
    (InstanceStatus.SUSPENDED, InstanceStatus.RUNNING): "resume",
    (InstanceStatus.SUSPENDED, InstanceStatus.STOPPED): "stop",
}


def instance_may_move(from_status: str, to_status: str, action: str) -> bool:
    return INSTANCE_MOVES.get((from_status, to_status)) == action


def instance_statuses_for(action: str, to_status: str) -> list[str]:
    """The statuses ``action`` moves to ``to_status`` from (for set-based writes)."""
    return [frm for (frm, to), act in INSTANCE_MOVES.items() if to == to_status and act == action]


# --- events ----------------------------------------------------------------------------------------


def order_event_append(
    *,
    order: PackageOrder,
    reason: str,
    at: datetime,
    actor: Any = None,
    instance: ProductInstance | None = None,
    from_status: str = "",
    to_status: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    PackageOrderEvent.objects.create(
        order=order,
        instance=instance,
        actor=actor if getattr(actor, "pk", None) else None,
        at=at,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data=data or {},
    )


# --- locks -----------------------------------------------------------------------------------------


@dataclass
class LockedInstance:
    order: PackageOrder
    instance: ProductInstance
    subscription: Subscription
    lines: list[SubscriptionLine]


def order_lock(order_pk: int) -> PackageOrder:
    """Lock the order's account, then the order."""
    return account_then_row(PackageOrder, order_pk)


def instance_row(ext: str, account_id: int | None) -> dict[str, Any]:
    """The instance ``ext`` of ``account_id``. Ids are unique per account only (issue 13): without
    an account an id two accounts use is ambiguous (3307 asking for the account), never a guess."""
    qs = ProductInstance.objects.filter(prod_inst_id_ext=ext)
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    rows = list(qs.values("pk", "order_id", "order__account_id", "subscription_id")[:2])
    if not rows:
        raise PackageInstanceNotFound(f"instance {ext!r} not found")
    if len(rows) > 1:
        raise InvalidInput(
            f"instance id {ext!r} is used by several accounts: name the account",
            errors={"account_id": ["required: the instance id is not unique across accounts"]},
        )
    return dict(rows[0])


def instance_lock(ext: str, account_id: int | None = None) -> LockedInstance:
    """Lock account, order, instance, subscription and its lines, in that order."""
    row = instance_row(ext, account_id)
    account_lock(row["order__account_id"])
    order = PackageOrder.objects.select_for_update().get(pk=row["order_id"])
    instance = ProductInstance.objects.select_for_update().get(pk=row["pk"])
    sub = Subscription.objects.select_for_update().get(pk=instance.subscription_id)
    lines = list(SubscriptionLine.objects.select_for_update().filter(subscription=sub).order_by("pk"))
    for line in lines:
        line.subscription = sub
    return LockedInstance(order=order, instance=instance, subscription=sub, lines=lines)


# --- moves -----------------------------------------------------------------------------------------


def order_move(
    *,
    order: PackageOrder,
    to: str,
    action: str,
    reason: str,
    at: datetime,
    actor: Any = None,
    data: dict[str, Any] | None = None,
    fields: Iterable[str] = (),
) -> None:
    """Write the order's new status (and ``fields`` the caller set) and its event; the order is
    locked by the caller. Refuses a move that is not ``action``'s in ``ORDER_MOVES``."""
    previous = order.status
    if ORDER_MOVES.get((previous, to)) != action:
        raise PackageOrderStateError(f"order {order.order_id} is {previous}: it cannot become {to}")
    order.status = to
    order.save(update_fields=["status", *fields, "updated_at"])
    order_event_append(
        order=order, reason=reason, at=at, actor=actor, from_status=previous, to_status=to, data=data
    )


def order_transition(
    *,
    order_pk: int,
    to: str,
    action: str,
    refusal: str,
    reason: str,
    at: datetime,
    actor: Any = None,
    effect: Callable[[PackageOrder], dict[str, Any] | None],
    fields: Iterable[str] = (),
) -> tuple[PackageOrder, bool]:
    """Lock the order, check the move, run ``effect`` (it may set ``fields`` on the order and
    returns the event's data), write and append the event. Returns the order and whether it moved
    (``False``: it already had status ``to``). ``refusal`` is the 409 message, formatted with
    ``order_id`` and ``status``. Runs in the caller's transaction."""
    order = order_lock(order_pk)
    if order.status == to:
        return order, False
    if ORDER_MOVES.get((order.status, to)) != action:
        raise PackageOrderStateError(refusal.format(order_id=order.order_id, status=order.status))
    data = effect(order)
    order_move(order=order, to=to, action=action, reason=reason, at=at, actor=actor, data=data, fields=fields)
    return order, True


def instance_move(
    *,
    instance: ProductInstance,
    order: PackageOrder,
    to: str,
    action: str,
    reason: str,
    at: datetime,
    actor: Any = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Write the instance's new status and its event; the rows are locked by the caller. Refuses a
    move that is not ``action``'s in ``INSTANCE_MOVES``."""
    previous = instance.status
    if not instance_may_move(previous, to, action):
        raise PackageInstanceStateError(
            f"instance {instance.prod_inst_id_ext} is {previous}: it cannot become {to}"
        )
    instance.status = to
    instance.save(update_fields=["status", "updated_at"])
    order_event_append(
        order=order,
        instance=instance,
        reason=reason,
        at=at,
        actor=actor,
        from_status=previous,
        to_status=to,
        data=data,
    )


def instance_transition(
    *,
    prod_inst_id_ext: str,
    account_id: int | None,
    to: str,
    action: str,
    refusal: str,
    reason: str,
    at: datetime,
    actor: Any = None,
    effect: Callable[[LockedInstance], dict[str, Any] | None],
) -> tuple[LockedInstance, bool]:
    """Lock the instance (and everything above it), check the move, run ``effect`` (it returns
    the event's data), write and append the event. Returns the locked rows and whether the
    instance moved (``False``: it already had status ``to``). ``refusal`` is the 409 message,
    formatted with ``ext`` and ``status``. Runs in the caller's transaction."""
    locked = instance_lock(prod_inst_id_ext, account_id)
    instance = locked.instance
    if instance.status == to:
        return locked, False
    if not instance_may_move(instance.status, to, action):
        raise PackageInstanceStateError(refusal.format(ext=prod_inst_id_ext, status=instance.status))
    data = effect(locked)
    instance_move(
        instance=instance,
        order=locked.order,
        to=to,
        action=action,
        reason=reason,
        at=at,
        actor=actor,
        data=data,
    )
    return locked, True
