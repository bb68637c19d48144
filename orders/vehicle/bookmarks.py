"""Page bookmarks of an owner's unfiltered vehicle order list (B5 against 20 ms, issue 21.4).

An ``OFFSET`` walks index entries (~0.2-0.35 us each), so the middle page of 100,000 orders walks
~50,000 of them (~19 ms) even when read from the nearer end. A bookmark is the ``(updated_at, id)``
key of every ``STEP``-th row of the list (positions 0, STEP, 2*STEP, ... newest first), so a page is
a keyset seek to the nearest bookmark plus an ``OFFSET`` below ``STEP`` (below ``STEP / 2`` when the
nearer bookmark is the one after the page, read ascending and reversed).

The bookmarks of an owner are one entry of Django's cache (Redis in production), found as deep pages
ask for them: a page in the newer half extends them down from the deepest one known (or the newest
row), a page in the older half up from the highest one known from the oldest row (or that row), by
one statement that reads the stretch in index order with ``LIMIT`` and numbers it with
``ROW_NUMBER()`` (one consistent read), overshooting to twice the depth asked (capped at the middle)
so a walk through the list costs a few scans, and the first deep page after a write walks about as
far as the old path would have. They are valid for one *version* of the owner's list, a random token
under a key of its own: every write that moves rows of the owner's list (placement, every
transition, ORM deletes, the recount after an import) deletes the token when its transaction
commits (``bookmarks_forget_on_commit``); a rolled-back write deletes nothing, and changed nothing.
A reader takes the token *before* it scans, so bookmarks read from rows older than a commit are
stored under a token that commit has already deleted (or is about to): nobody reads them again. A
set is used only if its token is the current one, its step is ``STEP`` and it was found for the
list's current ``total`` (the owner's count row; a placement or delete whose forget was lost changes
it); otherwise it is started again. A cache failure reads the page the old way. Bookmarks found from
the oldest row are placed by ``total``, as the old path's ascending read of the older half is: both
need the count row to be right (``vehicle_order_counts_rebuild`` after an import).

What is not covered, and bounds it: a write committed but whose hook has not run yet (the moment
between ``COMMIT`` and ``on_commit`` in the writing thread: the same race as a ``total`` read just
before a placement commits), and writes around the ORM (``QuerySet.update``, raw SQL: the import path
calls ``vehicle_order_counts_rebuild``, which forgets too). ``VEHICLE_LIST_BOOKMARK_SECONDS``
(default 600) bounds how long any set, or token, lives; a lost delete (the cache down at commit) is
stale at most that long.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import caches
from django.db import connection, transaction
from django.db.models import Q, QuerySet

from orders.vehicle.models import VehicleOrder

__all__ = [
    "Bookmarks",
    "bookmarked_page_ids",
    "bookmarks_forget_on_commit",
    "bookmarks_get",
    "vehicle_list_bookmarks_clear",
]

logger = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


def step() -> int:
    """Rows between two bookmarks; a page nearer than this to either end of the list needs none."""
    return int(getattr(settings, "VEHICLE_LIST_BOOKMARK_EVERY", 1000))


def ttl() -> float:
    return float(getattr(settings, "VEHICLE_LIST_BOOKMARK_SECONDS", 600))


# Part of every key. Only tests change it (``vehicle_list_bookmarks_clear``): SQLite reuses the ids of
# rolled-back owners and the test transactions never commit (no token is ever deleted). Every process
# of a deployment keeps "0", which is what lets a write in one process forget what another reads.
_generation = "0"


def vehicle_list_bookmarks_clear() -> None:
    """Make every stored set unreachable from this process (tests)."""
    global _generation
    _generation = uuid.uuid4().hex[:12]


def _token_key(owner_id: int) -> str:
    return f"vobm:{_generation}:v:{owner_id}"


def _set_key(owner_id: int) -> str:
    return f"vobm:{_generation}:s:{owner_id}"


@dataclass
class Bookmarks:
    """``keys[k]`` is the key ``(updated_at in microseconds, id)`` of row ``k * step`` (newest first)
    of one owner's list as it is under ``token``, which had ``rows`` rows (its ``total`` then).
    Filled as deep pages ask: from the newest row down and from the oldest row up."""

    token: str
    step: int
    rows: int
    keys: dict[int, tuple[int, int]]

    def last(self) -> int:
        return (self.rows - 1) // self.step  # the index of the oldest bookmark

    def top_reach(self) -> int:
        """The k up to which every bookmark from the newest row on is known (-1: none)."""
        k = -1
        while k + 1 in self.keys:
            k += 1
        return k

    def bottom_reach(self) -> int:
        """The k from which every bookmark down to the oldest one is known (last + 1: none)."""
        k = self.last() + 1
        while k - 1 in self.keys and k - 1 >= 0:
            k -= 1
        return k


def _forget(owner_ids: frozenset[int]) -> None:
    caches["default"].delete_many([_token_key(owner_id) for owner_id in owner_ids])


def bookmarks_forget_on_commit(owner_ids: Iterable[int]) -> None:
    """Forget the bookmarks of ``owner_ids`` once the current transaction commits (at once outside
    one; never for a rolled-back one). Called by every write that moves rows of an owner's list. A
    cache error is logged, not raised (the write has committed; the sets expire by their TTL)."""
    ids = frozenset(owner_ids)
    if ids:
        transaction.on_commit(lambda: _forget(ids), robust=True)


# Every ``step``-th key of a stretch of the owner's range of ``veh_ord_owner_upd`` (covering), in one
# statement: the stretch is read in index order with ``LIMIT`` (from an anchor key, or an end of the
# list), then numbered. Written out rather than through ``Window()``: the ORM wraps a filter on a
# window in one more derived table and computes ``ROW_NUMBER()`` twice, 1.4-1.7x the time on
# MariaDB 10.11. ``raw()`` still converts ``updated_at`` as the field does on every backend.
SCAN_SQL = """
SELECT id, updated_at, rn FROM (
    SELECT id, updated_at, ROW_NUMBER() OVER (ORDER BY updated_at {d}, id {d}) AS rn FROM (
        SELECT id, updated_at FROM orders_vehicleorder WHERE owner_id = %s {bound}
        ORDER BY updated_at {d}, id {d} LIMIT %s
    ) AS stretch
) AS ranked WHERE (rn - 1 + %s) %% %s = 0 ORDER BY rn
"""
BOUND = {
    "DESC": "AND (updated_at < %s OR (updated_at = %s AND id <= %s))",
    "ASC": "AND (updated_at > %s OR (updated_at = %s AND id >= %s))",
}


def _scan(
    owner_id: int, *, direction: str, anchor: tuple[int, int] | None, rows: int, shift: int, every: int
) -> list[tuple[int, tuple[int, int]]]:
    """``(rn, key)`` of the rows numbered ``rn`` (1 = the anchor, or the end) with ``rn - 1 + shift``
    a multiple of ``every``, among the first ``rows`` read in ``direction`` from ``anchor``."""
    params: list[object] = [owner_id]
    bound = ""
    if anchor is not None:
        at = connection.ops.adapt_datetimefield_value(_at(anchor[0]))
        params += [at, at, anchor[1]]
        bound = BOUND[direction]
    params += [rows, shift, every]
    found = VehicleOrder.objects.raw(SCAN_SQL.format(d=direction, bound=bound), params)
    return [
        (int(getattr(row, "rn", 0)), ((row.updated_at - EPOCH) // ONE_MICROSECOND, row.pk)) for row in found
    ]


def _extend(owner_id: int, marks: Bookmarks, *, below: int, above: int, from_top: bool) -> bool:
    """Add the bookmarks ``below .. above`` are missing, from the nearer end: down from the deepest
    one known from the newest row, or up from the highest one known from the oldest row (from that
    row itself when there is none). Walks about as far as the page is from that end, once per token.
    Returns whether it scanned."""
    every = marks.step
    middle = marks.last() // 2
    if from_top:
        reach = marks.top_reach()
        if reach >= above:
            return False
        above = max(above, min(2 * above, middle + 1))  # overshoot: O(log n) scans per token
        start = max(reach, 0)
        anchor = marks.keys.get(start)
        for rn, key in _scan(
            owner_id, direction="DESC", anchor=anchor, rows=(above - start) * every + 1, shift=0, every=every
        ):
            marks.keys[start + (rn - 1) // every] = key
        return True
    reach = marks.bottom_reach()
    if reach <= below:
        return False
    below = min(below, max(marks.last() - 2 * (marks.last() - below), middle))
    if reach <= marks.last():  # up from the highest bookmark known from the oldest end
        for rn, key in _scan(
            owner_id,
            direction="ASC",
            anchor=marks.keys[reach],
            rows=(reach - below) * every + 1,
            shift=0,
            every=every,
        ):
            marks.keys[reach - (rn - 1) // every] = key
        return True
    # From the oldest row (position rows - 1): row rn is position rows - rn, a bookmark when that is
    # a multiple of the step, i.e. when rn - 1 + shift is, with shift = (1 - rows) mod step.
    shift = (1 - marks.rows) % every
    for rn, key in _scan(
        owner_id, direction="ASC", anchor=None, rows=marks.rows - below * every, shift=shift, every=every
    ):
        marks.keys[(marks.rows - rn) // every] = key
    return True


def _store(owner_id: int, marks: Bookmarks) -> None:
    # A plain tuple of str and ints: no class of ours in the pickle, so any release reads it.
    items = tuple((k, *key) for k, key in sorted(marks.keys.items()))
    caches["default"].set(_set_key(owner_id), (marks.token, marks.step, marks.rows, items), ttl())


def bookmarks_get(owner_id: int, *, total: int) -> Bookmarks | None:
    """The owner's bookmarks under the current token (none known yet: an empty set for ``total``
    rows); None when the cache fails (the caller reads the page without them). The token is taken
    before any scan of the list, so what a scan reads is stored under a token its commit deletes."""
    cache = caches["default"]
    every = step()
    found = cache.get_many([_token_key(owner_id), _set_key(owner_id)])  # one round trip
    token_key = _token_key(owner_id)
    token = found.get(token_key)
    if token is None:
        fresh = uuid.uuid4().hex
        token = fresh if cache.add(token_key, fresh, ttl()) else cache.get(token_key)
        if token is None:  # forgotten again in between: a write is committing now
            return None
    stored = found.get(_set_key(owner_id))
    if isinstance(stored, tuple) and len(stored) == 4 and stored[:3] == (token, every, total):
        return Bookmarks(token, every, total, {k: (micros, pk) for k, micros, pk in stored[3]})
    # None stored for this token, or for another row count: a placement or a delete whose forget
    # was lost (or is being made) changed the list, so nothing in that set is kept.
    return Bookmarks(token, every, total, {})


def _at(micros: int) -> datetime:
    return EPOCH + micros * ONE_MICROSECOND


def _at_or_after(key: tuple[int, int]) -> Q:
    """Rows at or older than ``key`` in the list's order (``(updated_at, id) <= key``)."""
    at = _at(key[0])
    return Q(updated_at__lt=at) | Q(updated_at=at, id__lte=key[1])


def _at_or_before(key: tuple[int, int]) -> Q:
    """Rows at or newer than ``key`` (``(updated_at, id) >= key``)."""
    at = _at(key[0])
    return Q(updated_at__gt=at) | Q(updated_at=at, id__gte=key[1])


def bookmarked_page_ids(
    qs: QuerySet[VehicleOrder], *, owner_id: int, total: int, offset: int, limit: int
) -> list[int] | None:
    """Ids of rows ``offset .. offset+limit`` of the owner's unfiltered list ``qs`` (newest first),
    sought from the nearest bookmark; None when there are no current bookmarks (the caller reads
    the page the old way). ``0 <= offset < total``. The bookmarks the page needs and nobody has
    found since the owner's last write are found first (a scan from the nearer end)."""
    end = min(offset + limit, total)
    try:
        marks = bookmarks_get(owner_id, total=total)
        if marks is None:
            return None
        below = min(offset // marks.step, marks.last())  # the bookmark at or before the page
        above = min(-(-(end - 1) // marks.step), marks.last())  # at or after its last row, if any
        if _extend(owner_id, marks, below=below, above=above, from_top=offset < total - end):
            _store(owner_id, marks)
    except Exception:  # noqa: BLE001 - any cache failure: read the page the old way
        logger.warning("vehicle order list bookmarks unavailable for owner %s", owner_id, exc_info=True)
        return None
    from_below = offset - below * marks.step if below in marks.keys else total
    from_above = (
        above * marks.step - (end - 1) if above in marks.keys and above * marks.step >= end - 1 else total
    )
    if total - end < min(from_below, from_above):
        return None  # the oldest end is nearer: the old path reads it ascending
    if from_below <= from_above:
        page = qs.filter(_at_or_after(marks.keys[below]))
        return list(page.values_list("id", flat=True)[from_below : from_below + end - offset])
    ascending = qs.filter(_at_or_before(marks.keys[above])).order_by("updated_at", "id")
    ids = list(ascending.values_list("id", flat=True)[from_above : from_above + end - offset])
    ids.reverse()
    return ids
