"""Vehicle orders (DOMAIN.md 7): placing, the one transition function, refunds and the lifecycle beat.

Every state change goes through ``vehicle_order_transition``: it locks the wallet first when the
move can move money (pay and the cancels after payment), then the order row, checks the move
against ``TRANSITIONS``, runs the move's effect (charge, refund, underwriting dates), saves and
appends one ``VehicleOrderEvent``, all in one transaction. Pay and refunds use one ledger
idempotency key per order, so a retried or duplicated request can never charge or refund twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.locks import account_lock
from billing.models import Account
from billing.services import account_charge, account_refund
from config.api.errors import ErrorCode
from config.api.fields import parse_money
from config.api.validation import invalid_message
from config.clock import add_cycles, local, local_tz
from config.db import retry_on_deadlock
from config.exceptions import InvalidInput, InvalidTransition, NotFound
from config.money import floor_cents, to_money
from orders.vehicle.models import (
    VehicleOrder,
    VehicleOrderEvent,
    VehicleOrderItem,
    VehicleOrderNoCounter,
    VehicleOrderOwnerCount,
    VehicleOrderState,
    VehicleOrderType,
)
from plans.models import Plan, PlanItem, PlanStatus

__all__ = [
    "TRANSITIONS",
    "VehicleOrderNotFound",
    "VehicleOrderStateError",
    "place_driver_order",
    "place_plan_order",
    "place_sale_order",
    "vehicle_order_cancel",
    "vehicle_order_counts_rebuild",
    "vehicle_order_pay",
    "vehicle_order_transition",
    "vehicle_order_underwrite",
    "vehicle_orders_advance",
]

logger = logging.getLogger("tally.orders.vehicle")

VEHICLE_PLAN_TYPE = "vehicle"
LEDGER_SUBJECT = "vehicle_order"
UNDERWRITE_RESULTS = ("approved", "rejected")
LATEST_DATE = date(3000, 1, 1)  # expect_at + 1 year must stay a valid date


class VehicleOrderNotFound(NotFound):
    """vehicle order not found"""

    codes = {"default": ErrorCode.VEHICLE_ORDER_NOT_FOUND}


class VehicleOrderStateError(InvalidTransition):
    """the order's current state does not allow this"""

    codes = {"default": ErrorCode.VEHICLE_ORDER_STATE}


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


def _refused(order: VehicleOrder, to_state: int, why: str = "") -> VehicleOrderStateError:
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
    if order.payment == 0:
        return {"charged": str(order.payment)}
    posting = account_charge(
        account_id=order.account_id,
        amount=order.payment,
        idempotency_key=f"vehicle-order:{order.order_id}:pay",
        subject=(LEDGER_SUBJECT, order.order_no),
        actor=_user_or_none(actor),
        memo=f"vehicle order {order.order_no}",
    )
    return {"charged": str(order.payment), "ledger_entry_id": posting.entry.pk}


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
            actor=_user_or_none(actor),
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


def _user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) is not None else None


# --------------------------------------------------------------------------------------------------
# The one transition function
# --------------------------------------------------------------------------------------------------


def move_for(order: VehicleOrder, to_state: int) -> Move:
    """The move from the order's state to ``to_state``, or 409/3502 naming the current state."""
    move = TRANSITIONS.get((order.state_code, to_state))
    if move is None:
        raise _refused(order, to_state)
    if order.type not in move.types:
        raise _refused(
            order,
            to_state,
            f"a {VehicleOrderType(order.type).label} order cannot {move.action.replace('_', ' ')}",
        )
    return move


def cancel_target(state_code: int) -> int:
    """The state a cancel moves to from ``state_code`` (unknown/terminal states: "canceled", which
    the transition map refuses)."""
    return CANCEL_TARGET.get(VehicleOrderState(state_code), VehicleOrderState.CANCELED)


def _order_filter(order_id: Any) -> dict[str, Any]:
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
    lookup = _order_filter(order_id)
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
        order.save()
        VehicleOrderEvent.objects.create(
            order=order,
            actor=_user_or_none(actor),
            occurred_at=now,
            kind=move.action,
            from_state=from_state,
            to_state=to_state,
            data=event_data,
        )
    return order


# --------------------------------------------------------------------------------------------------
# The named actions (what the API, admin and beat call)
# --------------------------------------------------------------------------------------------------


def vehicle_order_pay(*, order_id: uuid.UUID | str | int, actor: Any) -> VehicleOrder:
    """Charge ``payment`` to the owner's wallet and mark the order paid (1 -> 2)."""
    return vehicle_order_transition(order_id=order_id, to_state=VehicleOrderState.PAID, actor=actor, data={})


def vehicle_order_cancel(
    *, order_id: uuid.UUID | str | int, actor: Any, reason: str = "", now: datetime | None = None
) -> VehicleOrder:
    """Cancel from whatever state the order is in (the target follows from it), refunding per the rule."""
    lookup = _order_filter(order_id)
    current = VehicleOrder.objects.filter(**lookup).values_list("state_code", flat=True).first()
    if current is None:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found")
    target = cancel_target(current)
    data = {"reason": reason} if reason else {}
    return vehicle_order_transition(order_id=order_id, to_state=target, actor=actor, data=data, now=now)


def vehicle_order_underwrite(
    *,
    order_id: uuid.UUID | str | int,
    actor: Any,
    result: str,
    reason: str = "",
    now: datetime | None = None,
) -> VehicleOrder:
    """Record the underwriting ``result``: ``approved`` moves 2 -> 3 and sets start/stop;
    ``rejected`` cancels the paid order (2 -> 8) with a full refund. The event keeps ``result`` and
    the underwriter's ``reason`` (a rejection without one records "underwriting rejected")."""
    if result not in UNDERWRITE_RESULTS:
        raise InvalidInput(
            "invalid parameters: result: must be one of approved, rejected",
            errors={"result": ["must be one of approved, rejected"]},
        )
    lookup = _order_filter(order_id)
    order = VehicleOrder.objects.filter(**lookup).only("state_code", "type", "order_no").first()
    if order is None:
        raise VehicleOrderNotFound(f"vehicle order {order_id} not found")
    reason = (reason or "").strip()
    if result == "approved":
        data = {"result": result, "reason": reason} if reason else {"result": result}
        return vehicle_order_transition(
            order_id=order_id, to_state=VehicleOrderState.UNDERWRITTEN, actor=actor, data=data, now=now
        )
    if order.state_code != VehicleOrderState.PAID or order.type != VehicleOrderType.PLAN:
        raise _refused(
            order, VehicleOrderState.CANCELED_AFTER_PAYMENT, "only paid plan orders are underwritten"
        )
    return vehicle_order_transition(
        order_id=order_id,
        to_state=VehicleOrderState.CANCELED_AFTER_PAYMENT,
        actor=actor,
        data={"result": result, "reason": reason or "underwriting rejected"},
        now=now,
    )


@dataclass(frozen=True)
class _DueMove:
    from_state: int
    to_state: int
    filters: dict[str, Any]


def vehicle_orders_advance(*, now: datetime | None = None, chunk_size: int = 200) -> dict[str, int]:
    """The lifecycle beat: paid driver/sale orders and underwritten orders whose start has come take
    effect; orders in force past their stop expire. Chunks of rows locked with SKIP LOCKED, one
    transaction per chunk, so several workers share the work and a rerun finds nothing left."""
    now = now or timezone.now()
    jobs = [
        _DueMove(
            VehicleOrderState.PAID,
            VehicleOrderState.IN_FORCE,
            {"type__in": [VehicleOrderType.DRIVER, VehicleOrderType.SALE]},
        ),
        _DueMove(VehicleOrderState.UNDERWRITTEN, VehicleOrderState.IN_FORCE, {"start_at__lte": now}),
        _DueMove(VehicleOrderState.IN_FORCE, VehicleOrderState.EXPIRED, {"stop_at__lte": now}),
    ]
    counts: dict[str, int] = {}
    for job in jobs:
        done = 0
        failed: set[int] = set()
        while True:
            with transaction.atomic():
                pks = list(
                    VehicleOrder.objects.select_for_update(skip_locked=True)
                    .filter(state_code=job.from_state, **job.filters)
                    .exclude(pk__in=failed)
                    .order_by("pk")
                    .values_list("pk", flat=True)[:chunk_size]
                )
                for pk in pks:
                    try:
                        with transaction.atomic():
                            vehicle_order_transition(order_id=pk, to_state=job.to_state, actor=None, now=now)
                        done += 1
                    except InvalidTransition:
                        logger.warning("vehicle order %s could not move to %s", pk, job.to_state)
                        failed.add(pk)
            if len(pks) < chunk_size:
                break
        counts[f"{job.from_state}->{job.to_state}"] = done
    return counts


# --------------------------------------------------------------------------------------------------
# Placing
# --------------------------------------------------------------------------------------------------


class _Errors(dict[str, list[str]]):
    def add(self, field: str, reason: str) -> None:
        self.setdefault(field, []).append(reason)


def _uuid(value: Any, field: str, errors: _Errors, *, required: bool = True) -> uuid.UUID | None:
    if value is None or value == "":
        if required:
            errors.add(field, "required")
        return None
    if not isinstance(value, str | uuid.UUID):
        errors.add(field, "must be a UUID")
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        errors.add(field, "must be a UUID")
        return None


def _money(value: Any, field: str, errors: _Errors) -> Decimal | None:
    if value is None or value == "":
        errors.add(field, "required")
        return None
    try:
        return parse_money(value)
    except ValueError as exc:
        errors.add(field, str(exc))
        return None


def _ratio(value: Any, field: str, errors: _Errors) -> Decimal | None:
    amount = _money(value, field, errors)
    if amount is not None and amount > 1:
        errors.add(field, "must be between 0 and 1")
        return None
    return amount


def _datetime(value: Any, field: str, errors: _Errors) -> datetime | None:
    if value is None or value == "":
        errors.add(field, "required")
        return None
    parsed: datetime | None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    else:
        parsed = None
    if parsed is None:
        errors.add(field, "must be an ISO 8601 date-time")
        return None
    if timezone.is_naive(parsed):
        errors.add(field, "must carry a UTC offset")
        return None
    if not LATEST_DATE.year > parsed.year >= 2000:
        errors.add(field, f"must be between the years 2000 and {LATEST_DATE.year - 1}")
        return None
    return parsed


def _check_totals(
    summary: Any, payment: Any, item_sum: Decimal | None, errors: _Errors
) -> tuple[Decimal, Decimal]:
    s = _money(summary, "summary", errors)
    p = _money(payment, "payment", errors)
    if s is not None and item_sum is not None and s != item_sum:
        errors.add("summary", f"must equal the sum of the item prices ({item_sum})")
    if s is not None and p is not None and p > s:
        errors.add("payment", f"must be <= summary ({s})")
    return s or Decimal(0), p or Decimal(0)


def _plan_ok(plan: Plan | None, pid: str, field: str, errors: _Errors) -> bool:
    if plan is None:
        errors.add(field, f"unknown plan {pid}")
        return False
    if plan.plan_type != VEHICLE_PLAN_TYPE:
        errors.add(field, f"plan {pid} is not a vehicle plan")
        return False
    if plan.status != PlanStatus.ACTIVE:
        errors.add(field, f"plan {pid} is retired")
        return False
    return True


def _priced_items(
    raw: Any, field: str, errors: _Errors
) -> list[tuple[str, uuid.UUID | None, Decimal | None]]:
    """``{piid: price}`` -> ``[(path, piid, price)]`` with every malformed entry reported."""
    if not isinstance(raw, Mapping):
        errors.add(field, "must be an object {piid: price}")
        return []
    if not raw:
        errors.add(field, "must contain at least one item")
        return []
    out = []
    for key, price in raw.items():
        path = f"{field}.{key}"
        piid = _uuid(key, path, errors)
        out.append((path, piid, _money(price, path, errors)))
    return out


def _catalog_items(piids: list[uuid.UUID]) -> dict[uuid.UUID, PlanItem]:
    return {i.piid: i for i in PlanItem.objects.filter(piid__in=piids).select_related("plan")}


@dataclass(frozen=True)
class _ItemRow:
    item: PlanItem
    price: Decimal


def place_plan_order(
    *,
    owner: Any,
    account: Account,
    vid: Any,
    plans: Any,
    qid: Any,
    pmid: Any = None,
    service_ratio: Any,
    summary: Any,
    payment: Any,
    expect_at: Any,
) -> VehicleOrder:
    """A plan order: ``plans`` is ``{plan_id: {piid: price}}``; every rule is checked before writing."""
    errors = _Errors()
    v = _uuid(vid, "vid", errors)
    q = _uuid(qid, "qid", errors)
    pm = _uuid(pmid, "pmid", errors, required=False)
    ratio = _ratio(service_ratio, "service_ratio", errors)
    expect = _datetime(expect_at, "expect_at", errors)
    rows: list[_ItemRow] = []
    item_sum: Decimal | None = Decimal(0)
    if not isinstance(plans, Mapping) or not plans:
        errors.add("plans", "must be a non-empty object {plan_id: {piid: price}}")
        item_sum = None
    else:
        catalog_plans = {p.plan_id: p for p in Plan.objects.filter(plan_id__in=[str(k) for k in plans])}
        parsed = {str(pid): _priced_items(items, f"plans.{pid}", errors) for pid, items in plans.items()}
        catalog = _catalog_items([piid for entries in parsed.values() for _, piid, _ in entries if piid])
        for pid, entries in parsed.items():
            plan_ok = _plan_ok(catalog_plans.get(pid), pid, f"plans.{pid}", errors)
            for path, piid, price in entries:
                if price is None or piid is None:
                    item_sum = None
                    continue
                item = catalog.get(piid)
                if item is None:
                    errors.add(path, "unknown plan item")
                elif item.plan.plan_id != pid:
                    errors.add(path, f"plan item belongs to plan {item.plan.plan_id}, not {pid}")
                elif plan_ok:
                    rows.append(_ItemRow(item, price))
                if item_sum is not None:
                    item_sum += price
    s, p = _check_totals(summary, payment, item_sum, errors)
    _raise_if(errors)
    return _create(
        owner=owner,
        account=account,
        type=VehicleOrderType.PLAN,
        vid=v,
        summary=s,
        payment=p,
        rows=rows,
        fields={"qid": q, "pmid": pm, "service_ratio": ratio, "expect_at": expect},
    )


def place_driver_order(
    *, owner: Any, account: Account, vid: Any, dids: Any, summary: Any, payment: Any
) -> VehicleOrder:
    """A driver order adds drivers (``dids``) to a vehicle's cover; it has no plan items."""
    errors = _Errors()
    v = _uuid(vid, "vid", errors)
    ids: list[str] = []
    if not isinstance(dids, list) or not dids:
        errors.add("dids", "must be a non-empty list of UUIDs")
    else:
        for index, raw in enumerate(dids):
            did = _uuid(raw, f"dids[{index}]", errors)
            if did is not None:
                if str(did) in ids:
                    errors.add(f"dids[{index}]", "duplicate driver id")
                ids.append(str(did))
    s, p = _check_totals(summary, payment, None, errors)
    _raise_if(errors)
    return _create(
        owner=owner,
        account=account,
        type=VehicleOrderType.DRIVER,
        vid=v,
        summary=s,
        payment=p,
        rows=[],
        fields={"extra": {"dids": ids}},
    )


def place_sale_order(
    *, owner: Any, account: Account, vid: Any, qid: Any, items: Any, summary: Any, payment: Any
) -> VehicleOrder:
    """A sale order: ``items`` is ``{piid: price}``, all of one vehicle plan (the order's plan)."""
    errors = _Errors()
    v = _uuid(vid, "vid", errors)
    q = _uuid(qid, "qid", errors)
    entries = _priced_items(items, "items", errors)
    catalog = _catalog_items([piid for _, piid, _ in entries if piid])
    rows: list[_ItemRow] = []
    item_sum: Decimal | None = Decimal(0) if entries else None
    for path, piid, price in entries:
        if price is None or piid is None:
            item_sum = None
            continue
        if item_sum is not None:
            item_sum += price
        item = catalog.get(piid)
        if item is None:
            errors.add(path, "unknown plan item")
        else:
            rows.append(_ItemRow(item, price))
    plan_ids = sorted({r.item.plan.plan_id for r in rows})
    plan: Plan | None = None
    if len(plan_ids) > 1:
        errors.add("items", f"all items must belong to one plan (found {', '.join(plan_ids)})")
    elif plan_ids:
        plan = rows[0].item.plan
        _plan_ok(plan, plan.plan_id, "items", errors)
    s, p = _check_totals(summary, payment, item_sum, errors)
    _raise_if(errors)
    return _create(
        owner=owner,
        account=account,
        type=VehicleOrderType.SALE,
        vid=v,
        summary=s,
        payment=p,
        rows=rows,
        fields={"qid": q, "plan": plan},
    )


def _raise_if(errors: _Errors) -> None:
    if errors:
        raise InvalidInput(invalid_message(errors), errors=dict(errors))


def _order_day(now: datetime) -> date:
    return local(now).date()


def _ensure_counter(day: date) -> None:
    """Create the day's counter row in its own short transaction when we can, so concurrent
    first-of-day placements never wait on each other's inserts inside the placement transaction."""
    if transaction.get_connection().in_atomic_block:
        return
    try:
        VehicleOrderNoCounter.objects.get_or_create(day=day)
    except IntegrityError:
        pass  # created concurrently


def allocate_order_no(*, day: date) -> str:
    """``V<yyyymmdd>-<n>``: ``UPDATE ... SET last = last + 1`` takes the day row's lock until the
    caller's transaction ends, then we read our own value. Must run inside ``transaction.atomic``."""
    counters = VehicleOrderNoCounter.objects.filter(day=day)
    if not counters.update(last=F("last") + 1):
        try:
            with transaction.atomic():
                VehicleOrderNoCounter.objects.create(day=day, last=1)
        except IntegrityError:
            counters.update(last=F("last") + 1)
    last = counters.select_for_update().values_list("last", flat=True).get()
    return f"V{day:%Y%m%d}-{last:06d}"


def _create(
    *,
    owner: Any,
    account: Account,
    type: int,  # noqa: A002 - the domain's name
    vid: uuid.UUID | None,
    summary: Decimal,
    payment: Decimal,
    rows: list[_ItemRow],
    fields: dict[str, Any],
) -> VehicleOrder:
    now = timezone.now()
    day = _order_day(now)
    _ensure_counter(day)
    return _insert(
        owner=owner,
        account=account,
        type=type,
        vid=vid,
        summary=summary,
        payment=payment,
        rows=rows,
        fields=fields,
        now=now,
        day=day,
    )


@retry_on_deadlock
def _insert(
    *,
    owner: Any,
    account: Account,
    type: int,  # noqa: A002 - the domain's name
    vid: uuid.UUID | None,
    summary: Decimal,
    payment: Decimal,
    rows: list[_ItemRow],
    fields: dict[str, Any],
    now: datetime,
    day: date,
) -> VehicleOrder:
    """The placement transaction: number, order, items, owner count, event. Re-run whole when
    MariaDB picks it as a deadlock victim (first-of-day counter rows created by two placements)."""
    with transaction.atomic():
        order = VehicleOrder.objects.create(
            order_no=allocate_order_no(day=day),
            type=type,
            vid=vid,
            owner=owner,
            account=account,
            summary=summary,
            payment=payment,
            **fields,
        )
        VehicleOrderItem.objects.bulk_create(
            [
                VehicleOrderItem(
                    order=order,
                    plan=r.item.plan,
                    plan_item=r.item,
                    piid=r.item.piid,
                    name=r.item.name,
                    price=r.price,
                )
                for r in rows
            ]
        )
        _count_placed(order.owner_id)
        VehicleOrderEvent.objects.create(
            order=order,
            actor=_user_or_none(owner),
            occurred_at=now,
            kind="placed",
            from_state=None,
            to_state=VehicleOrderState.CREATED,
            data={"order_no": order.order_no, "summary": str(summary), "payment": str(payment)},
        )
    return order


# --------------------------------------------------------------------------------------------------
# Per-owner order counts (the unfiltered list's total, B5)
# --------------------------------------------------------------------------------------------------


def _count_placed(owner_id: int) -> None:
    """+1 on the owner's count, in the placement transaction after the order row is inserted (the
    row lock is held until the order commits, so the count and the table change together).

    The owner's first counted order creates the row from ``COUNT(*)``, which sees the new order and
    any committed rows that reached the table around the services. A concurrent creator (the day
    rolled over between two placements) makes our insert fail: we add one to its row instead, which
    its ``COUNT(*)`` could not have included (our order was not committed)."""
    counts = VehicleOrderOwnerCount.objects.filter(owner_id=owner_id)
    if counts.update(total=F("total") + 1):
        return
    try:
        with transaction.atomic():
            VehicleOrderOwnerCount.objects.create(
                owner_id=owner_id, total=VehicleOrder.objects.filter(owner_id=owner_id).count()
            )
    except IntegrityError:
        counts.update(total=F("total") + 1)


def vehicle_order_counts_rebuild(*, owner_ids: Iterable[int] | None = None) -> int:
    """Recount the orders of ``owner_ids`` (default: every owner with orders or a count row) and
    store the counts; returns how many owners were recounted.

    For rows that reached the table around the services (a bulk import, a fix by hand) and once
    after a rolling deploy of migration 0006. Safe while orders are being placed: each owner's row is
    locked before counting, so a placement either committed before the count (and is in it) or
    waits for the lock and adds its one afterwards."""
    if owner_ids is None:
        owners = set(VehicleOrder.objects.order_by().values_list("owner_id", flat=True).distinct())
        owners |= set(VehicleOrderOwnerCount.objects.values_list("owner_id", flat=True))
    else:
        owners = set(owner_ids)
    for owner_id in sorted(owners):
        _recount(owner_id)
    return len(owners)


def _recount(owner_id: int) -> None:
    for _ in range(2):
        with transaction.atomic():
            counts = VehicleOrderOwnerCount.objects.filter(owner_id=owner_id)
            if counts.select_for_update().exists():
                counts.update(total=VehicleOrder.objects.filter(owner_id=owner_id).count())
                return
            try:
                with transaction.atomic():
                    VehicleOrderOwnerCount.objects.create(
                        owner_id=owner_id, total=VehicleOrder.objects.filter(owner_id=owner_id).count()
                    )
                return
            except IntegrityError:
                pass  # a placement created it meanwhile: lock it and count again
    raise AssertionError(f"could not recount the vehicle orders of owner {owner_id}")
