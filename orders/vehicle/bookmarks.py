"""Page bookmarks of an owner's unfiltered vehicle order list (B5 against 20 ms, issue 21.4).

An ``OFFSET`` walks index entries (~0.2-0.35 us each), so the middle page of 100,000 orders walks
~50,000 of them (~19 ms) even when read from the nearer end. A bookmark is the ``(updated_at, id)``
key of every ``STEP``-th row of the list (positions 0, STEP, 2*STEP, ... newest first), so a page is
a keyset seek to the nearest bookmark plus an ``OFFSET`` below ``STEP`` (below ``STEP / 2`` when the
nearer bookmark is the one after the page, read ascending and reversed).

The bookmarks of an owner are one entry of Django's cache (Redis in production), built by one
covering-index scan (``ROW_NUMBER()``, one statement: one consistent read) on the first deep page
that finds none. They are valid for one *version* of the owner's list, a random token under a key of
its own: every write that moves rows of the owner's list (placement, every transition, ORM deletes,
the recount after an import) deletes the token when its transaction commits
(``bookmarks_forget_on_commit``); a rolled-back write deletes nothing, and changed nothing. A reader
takes the token *before* it scans, so a set built from rows older than a commit is stored under a
token that commit has already deleted (or is about to): nobody reads it again. A set is used only if
its token is the current one, its step is ``STEP`` and its row count equals the list's ``total`` (the
owner's count row); otherwise the page is read the old way (never a wrong page, just a slower one).

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
from django.db import transaction
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


@dataclass(frozen=True)
class Bookmarks:
    """The keys ``(updated_at in microseconds, id)`` of rows ``0, step, 2*step, ...`` (newest first)
    of one owner's list as it was under ``token``, which had ``rows`` rows."""

    token: str
    step: int
    rows: int
    keys: tuple[tuple[int, int], ...]


def _forget(owner_ids: frozenset[int]) -> None:
    caches["default"].delete_many([_token_key(owner_id) for owner_id in owner_ids])


def bookmarks_forget_on_commit(owner_ids: Iterable[int]) -> None:
    """Forget the bookmarks of ``owner_ids`` once the current transaction commits (at once outside
    one; never for a rolled-back one). Called by every write that moves rows of an owner's list. A
    cache error is logged, not raised (the write has committed; the sets expire by their TTL)."""
    ids = frozenset(owner_ids)
    if ids:
        transaction.on_commit(lambda: _forget(ids), robust=True)


# Every ``step``-th key of the owner's range of ``veh_ord_owner_upd`` (covering) and the row count,
# in one statement. Written out rather than through ``Window()``: the ORM wraps a filter on a
# window in one more derived table and computes ``ROW_NUMBER()`` twice, 1.4-1.7x the time on
# MariaDB 10.11 (100,000 orders: 146-178 ms against 104 ms median at load 8). ``raw()`` still
# converts ``updated_at`` as the field does on every backend.
BUILD_SQL = """
SELECT id, updated_at, n FROM (
    SELECT id, updated_at, ROW_NUMBER() OVER (ORDER BY updated_at DESC, id DESC) AS rn,
           COUNT(*) OVER () AS n
    FROM orders_vehicleorder WHERE owner_id = %s
) AS ranked WHERE (rn - 1) %% %s = 0 ORDER BY rn
"""


def _build(owner_id: int, token: str, every: int) -> Bookmarks:
    """One scan of the owner's list: every ``every``-th key and the row count."""
    rows = list(VehicleOrder.objects.raw(BUILD_SQL, [owner_id, every]))
    keys = tuple(((row.updated_at - EPOCH) // ONE_MICROSECOND, row.pk) for row in rows)
    counted = int(getattr(rows[0], "n", 0)) if rows else 0  # the raw query's extra column
    return Bookmarks(token=token, step=every, rows=counted, keys=keys)


def bookmarks_get(owner_id: int) -> Bookmarks | None:
    """The owner's current bookmarks, built (and stored) when there are none for the current token;
    None when the cache fails (the caller reads the page without them)."""
    cache = caches["default"]
    every = step()
    try:
        found = cache.get_many([_token_key(owner_id), _set_key(owner_id)])  # one round trip
        token_key = _token_key(owner_id)
        token = found.get(token_key)
        if token is None:
            fresh = uuid.uuid4().hex
            token = fresh if cache.add(token_key, fresh, ttl()) else cache.get(token_key)
            if token is None:  # forgotten again in between: a write is committing now
                return None
        stored = found.get(_set_key(owner_id))
        if isinstance(stored, tuple) and len(stored) == 4 and stored[:2] == (token, every):
            return Bookmarks(*stored)
        marks = _build(owner_id, token, every)  # the token was taken before the scan
        # A plain tuple of str and ints: no class of ours in the pickle, so any release reads it.
        cache.set(_set_key(owner_id), (marks.token, marks.step, marks.rows, marks.keys), ttl())
        return marks
    except Exception:  # noqa: BLE001 - any cache failure: read the page the old way
        logger.warning("vehicle order list bookmarks unavailable for owner %s", owner_id, exc_info=True)
        return None


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
    sought from the nearest bookmark; None when no current bookmarks match ``total`` (the caller
    reads the page the old way). ``0 <= offset < total``."""
    marks = bookmarks_get(owner_id)
    if marks is None or marks.rows != total or not marks.keys:
        return None
    end = min(offset + limit, total)
    below = min(offset // marks.step, len(marks.keys) - 1)  # the bookmark at or before the page
    above = -(-(end - 1) // marks.step)  # the first bookmark at or after the page's last row
    from_below = offset - below * marks.step
    from_above = above * marks.step - (end - 1) if above < len(marks.keys) else total
    from_oldest = total - end
    if from_oldest < min(from_below, from_above):
        return None  # the oldest end is nearer: the old path reads it ascending
    if from_below <= from_above:
        page = qs.filter(_at_or_after(marks.keys[below]))
        return list(page.values_list("id", flat=True)[from_below : from_below + end - offset])
    ascending = qs.filter(_at_or_before(marks.keys[above])).order_by("updated_at", "id")
    ids = list(ascending.values_list("id", flat=True)[from_above : from_above + end - offset])
    ids.reverse()
    return ids
