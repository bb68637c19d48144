"""Reads of vehicle orders: the caller's list (index-backed, deferred join) and one order with its
items and events. A user sees only the orders they own; a holder of ``billing.view_any_account``
sees every order (``billing.act_for_any_account`` to act on them; issue 13).

The list (B5) costs about the same at any depth: the unfiltered ``total`` is the owner's
``VehicleOrderOwnerCount`` row (filtered lists still count: they are narrower), a page in the older
half of the list is read from the other end of the same index (ascending, then reversed), so no
request walks more than half of it; on the unfiltered list of one's own orders a deep page is a
keyset seek to the nearest page bookmark plus an ``OFFSET`` below 1,000 (``orders.vehicle.bookmarks``,
issue 21.4); and ``after=<cursor>`` continues from the last row of a page by
keyset (constant time at any depth)."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

from billing.tenancy import may_see_all, may_view_any_account, refuse_read_only_act
from config.exceptions import InvalidInput
from orders.vehicle import bookmarks
from orders.vehicle.errors import VehicleOrderNotFound
from orders.vehicle.models import VehicleOrder, VehicleOrderEvent, VehicleOrderOwnerCount

__all__ = [
    "vehicle_order_cursor",
    "vehicle_order_events",
    "vehicle_order_get",
    "vehicle_order_list",
    "vehicle_order_list_after",
    "vehicle_order_list_queryset",
    "vehicle_order_total",
    "vehicle_orders_visible",
]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
MAX_CURSOR_LENGTH = 100


def vehicle_orders_visible(*, user: Any, write: bool = False) -> QuerySet[VehicleOrder]:
    """The user's own orders, or every order for who may see (``write``: act on) any account."""
    qs = VehicleOrder.objects.all()
    if not may_see_all(user, write=write):
        qs = qs.filter(owner_id=user.pk)
    return qs


def vehicle_order_list_queryset(
    *,
    user: Any,
    type: int | None = None,
    state_code: int | None = None,
    vid: uuid.UUID | None = None,  # noqa: A002
) -> QuerySet[VehicleOrder]:
    """The filtered list, newest updated first; served by ``veh_ord_owner_*_upd`` indexes."""
    qs = vehicle_orders_visible(user=user)
    if type is not None:
        qs = qs.filter(type=type)
    if state_code is not None:
        qs = qs.filter(state_code=state_code)
    if vid is not None:
        qs = qs.filter(vid=vid)
    return qs.order_by("-updated_at", "-id")


def vehicle_order_total(*, user: Any, qs: QuerySet[VehicleOrder], filtered: bool) -> int:
    """The list's ``total``: the caller's order count for an unfiltered list of their own orders,
    else ``COUNT(*)`` (filters narrow the index range; staff list everyone's orders)."""
    if not filtered and not may_view_any_account(user):
        counted = VehicleOrderOwnerCount.objects.filter(pk=user.pk).values_list("total", flat=True).first()
        if counted is not None:  # no row yet: not counted (no order placed through the services)
            return counted
    return qs.count()


def _page_ids(
    qs: QuerySet[VehicleOrder], *, total: int, offset: int, limit: int, owner_id: int | None = None
) -> list[int]:
    """Ids of rows ``offset .. offset+limit`` of ``qs`` (newest first), from the nearer end of the
    index: a page in the older half is read ascending from the oldest row, then reversed. A page of
    ``owner_id``'s unfiltered list farther than a bookmark step from both ends is sought from the
    nearest page bookmark instead, when there are current ones (``orders.vehicle.bookmarks``)."""
    if offset >= total:
        return []
    end = min(offset + limit, total)
    if owner_id is not None and min(offset, total - end) >= bookmarks.step():
        ids = bookmarks.bookmarked_page_ids(qs, owner_id=owner_id, total=total, offset=offset, limit=limit)
        if ids is not None:
            return ids
    if total - offset < end:
        ids = list(qs.order_by("updated_at", "id").values_list("id", flat=True)[total - end : total - offset])
        ids.reverse()
        return ids
    return list(qs.values_list("id", flat=True)[offset : offset + limit])


# A list row: every column of the order, and of its owner, wallet and plan only what the list shows.
LIST_FIELDS = [
    *(f.name for f in VehicleOrder._meta.concrete_fields),
    "owner__username",
    "account__namespace",
    "plan__plan_id",
]


def _rows(ids: list[int]) -> list[VehicleOrder]:
    rows = VehicleOrder.objects.select_related("owner", "account", "plan").only(*LIST_FIELDS).in_bulk(ids)
    return [rows[i] for i in ids if i in rows]


def vehicle_order_list(
    *,
    user: Any,
    offset: int,
    limit: int,
    type: int | None = None,  # noqa: A002
    state_code: int | None = None,
    vid: uuid.UUID | None = None,
) -> tuple[int, list[VehicleOrder]]:
    """``(total, page)``. The page is found on the index alone (ids only), then its rows are read by
    primary key, so a deep offset walks index entries instead of whole rows: at most half of them,
    and on the unfiltered list of one's own orders fewer than a bookmark step (B5)."""
    qs = vehicle_order_list_queryset(user=user, type=type, state_code=state_code, vid=vid)
    filtered = type is not None or state_code is not None or vid is not None
    total = vehicle_order_total(user=user, qs=qs, filtered=filtered)
    owner_id = None if filtered or may_view_any_account(user) else user.pk  # one owner's whole list
    return total, _rows(_page_ids(qs, total=total, offset=offset, limit=limit, owner_id=owner_id))


def vehicle_order_cursor(order: VehicleOrder) -> str:
    """The opaque ``next`` token of a page ending with ``order``: its ``updated_at`` (microseconds)
    and public ``order_id``; the row's pk never leaves the server."""
    micros = (order.updated_at - EPOCH) // ONE_MICROSECOND
    raw = f"{micros}.{order.order_id.hex}".encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _bad_cursor() -> InvalidInput:
    return InvalidInput("invalid parameters: after: invalid cursor", errors={"after": ["invalid cursor"]})


def _parse_cursor(token: str) -> tuple[datetime, uuid.UUID]:
    if len(token) > MAX_CURSOR_LENGTH:
        raise _bad_cursor()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        micros, hex_id = raw.split(".")
        return EPOCH + int(micros) * ONE_MICROSECOND, uuid.UUID(hex=hex_id)
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError) as exc:
        raise _bad_cursor() from exc


def vehicle_order_list_after(
    *,
    user: Any,
    after: str | None,
    limit: int,
    type: int | None = None,  # noqa: A002
    state_code: int | None = None,
    vid: uuid.UUID | None = None,
) -> tuple[int, list[VehicleOrder], bool]:
    """``(total, page, more)``: the ``limit`` orders after the cursor ``after`` (from the top when
    None), by keyset on the same index, so any depth costs what the first page costs. The cursor's
    order must be visible to the caller (else 3307 naming ``after``); if that order has changed
    since, the walk still continues from where the previous page ended."""
    qs = vehicle_order_list_queryset(user=user, type=type, state_code=state_code, vid=vid)
    filtered = type is not None or state_code is not None or vid is not None
    total = vehicle_order_total(user=user, qs=qs, filtered=filtered)
    page = qs
    if after:
        updated_at, order_id = _parse_cursor(after)
        pk = vehicle_orders_visible(user=user).filter(order_id=order_id).values_list("pk", flat=True).first()
        if pk is None:
            raise _bad_cursor()
        page = qs.filter(Q(updated_at__lt=updated_at) | Q(updated_at=updated_at, id__lt=pk))
    ids = list(page.values_list("id", flat=True)[: limit + 1])
    return total, _rows(ids[:limit]), len(ids) > limit


def vehicle_order_get(
    *, user: Any, order_id: Any, write: bool = False, any_owner: bool = False
) -> VehicleOrder:
    """One order the user may see (``write``: act on; ``any_owner``: the caller checked a power
    over every order, e.g. underwriting); another's order is 404 like an unknown one."""
    try:
        key = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise VehicleOrderNotFound("vehicle order not found") from exc
    qs = VehicleOrder.objects.all() if any_owner else vehicle_orders_visible(user=user, write=write)
    order = (
        qs.select_related("owner", "account", "plan")
        .prefetch_related("items__plan")
        .filter(order_id=key)
        .first()
    )
    if order is None:
        if write:
            refuse_read_only_act(user, VehicleOrder.objects.filter(order_id=key).exists)
        raise VehicleOrderNotFound("vehicle order not found")
    return order


def vehicle_order_events(*, user: Any, order_id: Any) -> list[VehicleOrderEvent]:
    order = vehicle_order_get(user=user, order_id=order_id)
    return list(order.events.select_related("actor").order_by("occurred_at", "id"))
