"""Per-owner vehicle order counts: the unfiltered list's total without a COUNT over the table (B5)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import F

from orders.vehicle.bookmarks import bookmarks_forget_on_commit
from orders.vehicle.models import (
    VehicleOrder,
    VehicleOrderOwnerCount,
)

# --------------------------------------------------------------------------------------------------
# Per-owner order counts (the unfiltered list's total, B5)
# --------------------------------------------------------------------------------------------------


def owner_count_placed(owner_id: int) -> None:
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
    bookmarks_forget_on_commit(owners)  # rows that came around the services moved the lists too
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
