"""Vehicle orders: the transition map, the effect of each move, and the one transition function.

Every state change goes through ``vehicle_order_transition``: it locks the wallet first when the
move can move money (pay and the cancels after payment), then the order row, checks the move
against ``TRANSITIONS``, runs the move's effect (charge, refund, underwriting dates), saves and
appends one ``VehicleOrderEvent``, all in one transaction. Pay and refunds use one ledger
idempotency key per order, so a retried or duplicated request can never charge or refund twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.locks import account_lock
from billing.promotions import promotion_redeem
from billing.services import account_charge, account_refund
from config.clock import add_cycles, local, local_tz
from config.money import floor_cents, to_money
from orders.vehicle.bookmarks import bookmarks_forget_on_commit
from orders.vehicle.errors import VehicleOrderNotFound, VehicleOrderStateError
from orders.vehicle.models import (
    VehicleOrder,
    VehicleOrderDiscount,
    VehicleOrderEvent,
    VehicleOrderState,
    VehicleOrderType,
)

LEDGER_SUBJECT = "vehicle_order"


# --------------------------------------------------------------------------------------------------
# The transition map
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    action: str
    types: frozenset[int] = frozenset(VehicleOrderType.values)


TRANSITIONS: dict[tuple[int, int], Move] = {
    (VehicleOrderState.CREATED, VehicleOrderState.PAID): Move("pay"),
    (VehicleOrderState.CREATED, VehicleOrderState.CANCELED): Move("cancel"),
    (VehicleOrderState.PAID, VehicleOrderState.UNDERWRITTEN): Move(
        "underwrite", frozenset({VehicleOrderType.PLAN})
    ),
    (VehicleOrderState.PAID, VehicleOrderState.IN_FORCE): Move(
        "take_effect", frozenset({VehicleOrderType.DRIVER, VehicleOrderType.SALE})
    ),
    (VehicleOrderState.PAID, VehicleOrderState.CANCELED_AFTER_PAYMENT): Move("cancel"),
    (VehicleOrderState.UNDERWRITTEN, VehicleOrderState.IN_FORCE): Move("take_effect"),
    (VehicleOrderState.UNDERWRITTEN, VehicleOrderState.CANCELED_AFTER_UNDERWRITING): Move("cancel"),
    (VehicleOrderState.IN_FORCE, VehicleOrderState.EXPIRED): Move("expire"),
    (VehicleOrderState.IN_FORCE, VehicleOrderState.VOIDED): Move("cancel"),
}
# Target states whose move may move money: the wallet row is locked before the order row.
MONEY_TARGETS = frozenset(
    {
        VehicleOrderState.PAID,
        VehicleOrderState.CANCELED_AFTER_PAYMENT,
        VehicleOrderState.CANCELED_AFTER_UNDERWRITING,
        VehicleOrderState.VOIDED,
    }
)
CANCEL_TARGET = {
    VehicleOrderState.CREATED: VehicleOrderState.CANCELED,
    VehicleOrderState.PAID: VehicleOrderState.CANCELED_AFTER_PAYMENT,
    VehicleOrderState.UNDERWRITTEN: VehicleOrderState.CANCELED_AFTER_UNDERWRITING,
    VehicleOrderState.IN_FORCE: VehicleOrderState.VOIDED,
}


def _state_name(code: int) -> str:
    return f"{VehicleOrderState(code).label} ({code})" if code in VehicleOrderState.values else str(code)


def transition_refused(order: VehicleOrder, to_state: int, why: str = "") -> VehicleOrderStateError:
    reason = why or f"cannot move to {_state_name(to_state)}"
    return VehicleOrderStateError(
        f"order {order.order_no} is {_state_name(order.state_code)}: {reason}",
        state_code=order.state_code,
        state=VehicleOrderState(order.state_code).label,
    )


# --------------------------------------------------------------------------------------------------
# Effects of the moves (run under the locks, before the order is saved)
# --------------------------------------------------------------------------------------------------

Effect = Callable[[VehicleOrder, Any, dict[str, Any], datetime], dict[str, Any]]


def _pay(order: VehicleOrder, actor: Any, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    redeemed = _redeem(order, actor, now)
    if order.payment == 0:
        return {"charged": str(order.payment), **redeemed}
    posting = account_charge(
        account_id=order.account_id,
        amount=order.payment,
        idempotency_key=f"vehicle-order:{order.order_id}:pay",
        subject=(LEDGER_SUBJECT, order.order_no),
        actor=actor_user(actor),
        memo=f"vehicle order {order.order_no}",
    )
    return {"charged": str(order.payment), "ledger_entry_id": posting.entry.pk, **redeemed}


def _redeem(order: VehicleOrder, actor: Any, now: datetime) -> dict[str, Any]:
    """A plan order's ``pmid`` is redeemed by its payment, in the charge's transaction (the
    account row is locked); a promotion fully redeemed since the placement refuses the payment
    (3504 on ``pmid``) with nothing written."""
    line = VehicleOrderDiscount.objects.filter(order_id=order.pk).first()
    if line is None:
        return {}
    promotion_redeem(
        account_id=order.account_id,
        promotion_id=line.promotion_id,
        subject=("vehicle_order", order.order_no),
        field="pmid",
        at=now,
        actor=actor_user(actor),
    )
    return {"promotion": line.code, "discount": str(line.amount)}


def next_local_midnight(now: datetime) -> datetime:
    """The start of tomorrow in ``TALLY_TIME_ZONE``, as an aware datetime."""
    tomorrow = local(now).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time.min, tzinfo=local_tz())


def _underwrite(order: VehicleOrder, actor: Any, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    if order.expect_at is not None and order.expect_at > now:
        order.start_at = order.expect_at
    else:
        order.start_at = next_local_midnight(now)
    order.stop_at = add_cycles(order.start_at, "year", 1)
    return {"start_at": order.start_at.isoformat(), "stop_at": order.stop_at.isoformat()}


def _take_effect(order: VehicleOrder, actor: Any, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    # Driver and sale orders are not underwritten: their year starts when they take effect.
    if order.start_at is None:
        order.start_at = now
        order.stop_at = add_cycles(now, "year", 1)
        return {"start_at": order.start_at.isoformat(), "stop_at": order.stop_at.isoformat()}
    return {}


def prorated_refund(
    *, payment: Decimal, start_at: datetime, stop_at: datetime, now: datetime
) -> dict[str, Any]:
    """Refund for the unused whole local days, rounded down to the cent (docs/vehicle-orders.md).

    The day of the cancel counts as used; a cancel before the start refunds everything.
    """
    start_day, stop_day, today = local(start_at).date(), local(stop_at).date(), local(now).date()
    total_days = max((stop_day - start_day).days, 1)
    used_days = 0 if now < start_at else min((today - start_day).days + 1, total_days)
    unused_days = total_days - used_days
    amount = floor_cents(Decimal(payment) * unused_days / total_days)
    return {
        "refund": str(amount),
        "total_days": total_days,
        "used_days": used_days,
        "unused_days": unused_days,
    }


def cancel_refund(order: VehicleOrder, now: datetime) -> dict[str, Any]:
    """What canceling ``order`` at ``now`` refunds (a read; the cancel and its preview both call it):
    nothing before payment, the unused whole days once in force, everything in between."""
    if order.state_code == VehicleOrderState.CREATED:
        return {"refund": str(to_money(0))}
    if order.state_code == VehicleOrderState.IN_FORCE and order.start_at and order.stop_at:
        info = prorated_refund(payment=order.payment, start_at=order.start_at, stop_at=order.stop_at, now=now)
        info["rule"] = "prorated"
        return info
    return {"refund": str(to_money(order.payment)), "rule": "full"}


def _cancel(order: VehicleOrder, actor: Any, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    info = cancel_refund(order, now)
    amount = Decimal(info["refund"])
    if amount > 0:
        posting = account_refund(
            account_id=order.account_id,
            amount=amount,
            idempotency_key=f"vehicle-order:{order.order_id}:refund",
            subject=(LEDGER_SUBJECT, order.order_no),
            actor=actor_user(actor),
            memo=f"refund of vehicle order {order.order_no}",
        )
        info["ledger_entry_id"] = posting.entry.pk
    return info


def _nothing(order: VehicleOrder, actor: Any, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {}


EFFECTS: dict[str, Effect] = {
    "pay": _pay,
    "underwrite": _underwrite,
    "take_effect": _take_effect,
    "expire": _nothing,
    "cancel": _cancel,
}


def actor_user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) is not None else None


def order_event_append(
    order: VehicleOrder,
    *,
    from_state: int | None,
    to_state: int,
    reason: str,
    actor: Any,
    at: datetime,
    data: Mapping[str, Any],
) -> None:
    """Append the event of one change, in the events' shared vocabulary (docs/decisions.md, "Event
    tables"): ``at`` is the ``occurred_at`` column and ``reason`` (what happened) the ``kind`` one."""
    VehicleOrderEvent.objects.create(
        order=order,
        actor=actor_user(actor),
        occurred_at=at,
        kind=reason,
        from_state=from_state,
        to_state=to_state,
        data=dict(data),
    )


# --------------------------------------------------------------------------------------------------
# The one transition function
# --------------------------------------------------------------------------------------------------


def move_for(order: VehicleOrder, to_state: int) -> Move:
    """The move from the order's state to ``to_state``, or 409/3502 naming the current state."""
    move = TRANSITIONS.get((order.state_code, to_state))
    if move is None:
        raise transition_refused(order, to_state)
    if order.type not in move.types:
        raise transition_refused(
            order,
            to_state,
            f"a {VehicleOrderType(order.type).label} order cannot {move.action.replace('_', ' ')}",
        )
    return move


def cancel_target(state_code: int) -> int:
    """The state a cancel moves to from ``state_code`` (unknown/terminal states: "canceled", which
    the transition map refuses)."""
    return CANCEL_TARGET.get(VehicleOrderState(state_code), VehicleOrderState.CANCELED)


def order_lookup_filter(order_id: Any) -> dict[str, Any]:
    if isinstance(order_id, int):
        return {"pk": order_id}
    try:
        return {"order_id": uuid.UUID(str(order_id))}
    except ValueError as exc:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found") from exc


def vehicle_order_transition(
    *,
    order_id: uuid.UUID | str | int,
    to_state: int,
    actor: Any,
    data: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> VehicleOrder:
    """Move one order to ``to_state`` (``order_id`` is the public UUID or the row's pk).

    Locks the wallet (when the move may move money), then the order; refuses any move that is not
    in ``TRANSITIONS`` for the order's type with 409/3502 naming the current state.
    """
    now = now or timezone.now()
    lookup = order_lookup_filter(order_id)
    head = VehicleOrder.objects.filter(**lookup).values("pk", "account_id").first()
    if head is None:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found")
    with transaction.atomic():
        if to_state in MONEY_TARGETS:
            account_lock(head["account_id"])
        order = VehicleOrder.objects.select_for_update().get(pk=head["pk"])
        from_state = order.state_code
        move = move_for(order, to_state)
        event_data = dict(data or {})
        event_data.update(EFFECTS[move.action](order, actor, event_data, now))
        order.state_code = to_state
        order.state = VehicleOrderState(to_state).label
        order.save()  # updated_at moves: the order goes to the top of its owner's list
        bookmarks_forget_on_commit((order.owner_id,))
        order_event_append(
            order,
            from_state=from_state,
            to_state=to_state,
            reason=move.action,
            actor=actor,
            at=now,
            data=event_data,
        )
    return order
