"""Placing vehicle orders: plan, driver and sale orders, validated field by field (every error at
once, 3307), priced from the catalog, numbered from a per-day counter."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from billing.models import Account
from config.api.fields import parse_money
from config.api.validation import invalid_message
from config.clock import local
from config.db import retry_on_conflict
from config.exceptions import InvalidInput
from orders.vehicle.bookmarks import bookmarks_forget_on_commit
from orders.vehicle.counts import owner_count_placed
from orders.vehicle.discounts import DiscountRow, promotion_row
from orders.vehicle.models import (
    VehicleOrder,
    VehicleOrderDiscount,
    VehicleOrderItem,
    VehicleOrderState,
    VehicleOrderType,
)
from orders.vehicle.numbering import allocate_order_no, order_counter_ensure
from orders.vehicle.transitions import order_event_append
from plans.models import Plan, PlanItem, PlanStatus

VEHICLE_PLAN_TYPE = "vehicle"
LATEST_DATE = date(3000, 1, 1)  # expect_at + 1 year must stay a valid date


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
    summary: Any, payment: Any, item_sum: Decimal | None, errors: _Errors, discount: Decimal | None = None
) -> tuple[Decimal, Decimal]:
    s = _money(summary, "summary", errors)
    p = _money(payment, "payment", errors)
    if s is not None and item_sum is not None and discount is not None:
        if s != item_sum - discount:
            errors.add(
                "summary",
                f"must equal the sum of the item prices less the promotion's discount "
                f"({item_sum} - {discount} = {item_sum - discount})",
            )
    elif s is not None and item_sum is not None and s != item_sum:
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
    discount = promotion_row(pm, rows, item_sum, account, errors)
    s, p = _check_totals(summary, payment, item_sum, errors, discount.amount if discount else None)
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
        discount=discount,
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
    discount: DiscountRow | None = None,
) -> VehicleOrder:
    now = timezone.now()
    day = _order_day(now)
    order_counter_ensure(day)
    return _insert(
        discount=discount,
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


@retry_on_conflict
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
    discount: DiscountRow | None = None,
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
        data = {"order_no": order.order_no, "summary": str(summary), "payment": str(payment)}
        if discount is not None:
            VehicleOrderDiscount.objects.create(
                order=order,
                promotion=discount.promotion,
                code=discount.promotion.code,
                gross=discount.gross,
                amount=discount.amount,
            )
            data.update({"promotion": discount.promotion.code, "discount": str(discount.amount)})
        owner_count_placed(order.owner_id)
        bookmarks_forget_on_commit((order.owner_id,))  # a new top row: every bookmark moves down one
        order_event_append(
            order,
            from_state=None,
            to_state=VehicleOrderState.CREATED,
            reason="placed",
            actor=owner,
            at=now,
            data=data,
        )
    return order
