"""Page bookmarks of the unfiltered list (B5 against 20 ms, issue 21.4): a page read through a
bookmark equals the naive ``ORDER BY ... OFFSET`` page, before and after writes, whichever moment
the write commits at; a rolled-back write keeps them; anything stale falls back to the old path.

The step is 5 here (1,000 in a deployment) so a few dozen orders have bookmarks. The tests run in a
transaction that never commits, so "commits" are ``django_capture_on_commit_callbacks(execute=True)``
(the hooks a real commit would run, at that moment)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from orders.vehicle import bookmarks
from orders.vehicle.counts import vehicle_order_counts_rebuild
from orders.vehicle.models import VehicleOrder
from orders.vehicle.selectors import vehicle_order_list
from orders.vehicle.services import vehicle_order_cancel, vehicle_order_pay
from tests.orders.vehicle.factories import fund, make_driver_order, make_order

pytestmark = pytest.mark.django_db

STEP = 5
LIMIT = 3
T0 = datetime(2026, 3, 1, tzinfo=UTC)
Commit = Callable[..., AbstractContextManager[Any]]


@pytest.fixture(autouse=True)
def _step(settings: Any) -> Iterator[None]:
    settings.VEHICLE_LIST_BOOKMARK_EVERY = STEP
    bookmarks.vehicle_list_bookmarks_clear()
    yield
    bookmarks.vehicle_list_bookmarks_clear()


def _naive(user: Any) -> list[int]:
    rows = VehicleOrder.objects.filter(owner=user).order_by("-updated_at", "-id")
    return list(rows.values_list("id", flat=True))


def _orders(user: Any, n: int) -> list[VehicleOrder]:
    """``n`` orders whose ``updated_at`` repeat (ties by id) in an order unlike the insert order;
    written around the services, before any bookmark exists."""
    orders = [make_order(user, 1 if i % 4 else i % 3) for i in range(n)]
    for i, order in enumerate(orders):
        VehicleOrder.objects.filter(pk=order.pk).update(updated_at=T0 + timedelta(minutes=(i * 7) % 11))
    bookmarks.vehicle_list_bookmarks_clear()
    return orders


def _page(user: Any, offset: int, limit: int = LIMIT) -> list[int]:
    return [o.pk for o in vehicle_order_list(user=user, offset=offset, limit=limit)[1]]


def _every_page_is_naive(user: Any, limit: int = LIMIT) -> None:
    want = _naive(user)
    for offset in range(len(want) + 1):
        assert _page(user, offset, limit) == want[offset : offset + limit], (offset, limit)


def _builds(fn: Callable[[], Any]) -> int:
    """How many bookmark scans ``fn`` ran (the ``ROW_NUMBER()`` statement)."""
    with CaptureQueriesContext(connection) as seen:
        fn()
    return sum("ROW_NUMBER" in q["sql"].upper() for q in seen.captured_queries)


def test_the_bookmarks_are_every_step_th_key_found_from_the_nearer_end(user: Any) -> None:
    _orders(user, 48)
    owner_rows = VehicleOrder.objects.filter(owner=user).order_by("-updated_at", "-id")
    want = [((o.updated_at - bookmarks.EPOCH) // bookmarks.ONE_MICROSECOND, o.pk) for o in owner_rows]
    assert _builds(lambda: _page(user, 11)) == 1  # the newer half: scanned down from the newest row
    marks = bookmarks.bookmarks_get(user.pk, total=48)
    assert marks is not None and marks.step == STEP and marks.rows == 48
    assert marks.keys and all(key == want[k * STEP] for k, key in marks.keys.items())
    assert min(marks.keys) == 0 and marks.top_reach() >= 3
    assert _builds(lambda: _page(user, 34)) == 1  # the older half: scanned up from the oldest row
    marks = bookmarks.bookmarks_get(user.pk, total=48)
    assert marks is not None and max(marks.keys) == 9 and marks.bottom_reach() <= 6
    assert all(key == want[k * STEP] for k, key in marks.keys.items())
    assert _builds(lambda: [_page(user, o) for o in (11, 34, 13, 30)]) == 0  # all known now


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_every_page_through_bookmarks_equals_the_naive_page(limit: int, user: Any, make_user: Any) -> None:
    _orders(user, 31)
    _orders(make_user("other"), 6)
    assert _builds(lambda: _every_page_is_naive(user, limit)) >= 1
    assert _builds(lambda: _every_page_is_naive(user, limit)) == 0  # all from the cache


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_pages_asked_in_any_order_extend_the_bookmarks_from_either_end(order: str, user: Any) -> None:
    """Walked from the oldest page up, every page extends the bookmarks known from the oldest row
    (anchored on the highest one); shuffled, both chains grow in steps."""
    _orders(user, 67)
    want = _naive(user)
    offsets = list(range(len(want)))
    offsets = offsets[::-1] if order == "reversed" else random.Random(7).sample(offsets, len(offsets))
    pages: list[list[int]] = []
    scans = _builds(lambda: pages.extend(_page(user, o) for o in offsets))
    assert pages == [want[o : o + LIMIT] for o in offsets]
    assert 2 <= scans <= 10  # a few scans per token, not one per page


def test_a_deep_page_is_a_seek_with_a_short_offset(user: Any) -> None:
    _orders(user, 31)
    _page(user, 14)  # finds the bookmarks it needs
    with CaptureQueriesContext(connection) as seen:
        assert _page(user, 14) == _naive(user)[14:17]
    ids_sql = [q["sql"] for q in seen.captured_queries if "OFFSET" in q["sql"].upper()]
    assert len(ids_sql) == 1 and "OFFSET" in ids_sql[0].upper()
    assert "LIMIT 3 OFFSET 4" in ids_sql[0].upper()  # 4 rows past the bookmark at 10 (not 14)


def test_writes_interleaved_with_reads(user: Any, django_capture_on_commit_callbacks: Commit) -> None:
    fund(user, "100000")
    orders = _orders(user, 26)
    _every_page_is_naive(user)
    for i, order in enumerate(orders[3:20:4]):
        with django_capture_on_commit_callbacks(execute=True):
            if i % 2:
                vehicle_order_pay(order_id=order.order_id, actor=user)  # to the top of the list
            else:
                vehicle_order_cancel(order_id=order.order_id, actor=user)
        _every_page_is_naive(user)
        with django_capture_on_commit_callbacks(execute=True):
            make_driver_order(user)  # a new top row
        _every_page_is_naive(user)
    assert _builds(lambda: _every_page_is_naive(user)) == 0  # nothing written since the last build


def test_a_write_committed_between_the_build_and_the_read(
    user: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Commit
) -> None:
    fund(user, "100000")
    orders = _orders(user, 26)
    scan = bookmarks._scan

    def scan_then_a_commit(*args: Any, **kwargs: Any) -> Any:
        found = scan(*args, **kwargs)  # the list as it was...
        with django_capture_on_commit_callbacks(execute=True):  # ...then a move commits
            vehicle_order_pay(order_id=orders[20].order_id, actor=user)
        return found

    monkeypatch.setattr(bookmarks, "_scan", scan_then_a_commit)
    before = _naive(user)
    assert _page(user, 12) == before[12:15]  # this read's scan ran before the commit: its page
    monkeypatch.setattr(bookmarks, "_scan", scan)
    after = _naive(user)
    assert after != before
    assert _builds(lambda: _page(user, 12)) == 1  # the stored set was not used again
    _every_page_is_naive(user)


def test_a_write_committed_after_a_read_made_the_bookmarks(
    user: Any, django_capture_on_commit_callbacks: Commit
) -> None:
    fund(user, "100000")
    orders = _orders(user, 26)
    assert _page(user, 12) == _naive(user)[12:15]
    with django_capture_on_commit_callbacks(execute=True):
        vehicle_order_pay(order_id=orders[22].order_id, actor=user)  # no count change: only the token says
    assert _builds(lambda: _page(user, 12)) == 1
    _every_page_is_naive(user)


def test_a_rolled_back_write_keeps_the_bookmarks(
    user: Any, django_capture_on_commit_callbacks: Commit
) -> None:
    fund(user, "100000")
    orders = _orders(user, 26)
    _every_page_is_naive(user)
    with django_capture_on_commit_callbacks(execute=True) as hooks:
        with pytest.raises(RuntimeError), transaction.atomic():
            vehicle_order_pay(order_id=orders[5].order_id, actor=user)
            make_driver_order(user)
            raise RuntimeError("rolled back")
    assert hooks == []  # nothing to forget: nothing changed
    assert _builds(lambda: _every_page_is_naive(user)) == 0


def test_a_placement_whose_hook_never_ran_is_caught_by_the_total(user: Any) -> None:
    """A lost forget (the cache down at commit) after a placement: the set's row count no longer
    equals the owner's count, so the page is read the old way."""
    _orders(user, 26)
    _every_page_is_naive(user)
    make_driver_order(user)  # its hook is never run here
    _every_page_is_naive(user)


def test_deletes_and_recounts_forget(user: Any, django_capture_on_commit_callbacks: Commit) -> None:
    orders = _orders(user, 26)
    _every_page_is_naive(user)
    with django_capture_on_commit_callbacks(execute=True):
        orders[7].delete()
    assert _builds(lambda: _page(user, 12)) == 1
    _every_page_is_naive(user)
    VehicleOrder.objects.filter(pk=orders[9].pk).update(updated_at=T0 + timedelta(days=1))  # around the ORM
    with django_capture_on_commit_callbacks(execute=True):
        vehicle_order_counts_rebuild(owner_ids=[user.pk])  # what an import runs afterwards
    assert _builds(lambda: _page(user, 12)) == 1
    _every_page_is_naive(user)


def test_a_cache_failure_reads_the_old_way(user: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _orders(user, 26)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("cache down")

    monkeypatch.setattr(caches["default"], "get_many", down)
    _every_page_is_naive(user)


def test_filtered_and_staff_lists_and_shallow_pages_build_none(user: Any, staff_user: Any) -> None:
    _orders(user, 26)
    assert _builds(lambda: vehicle_order_list(user=user, offset=12, limit=3, type=1)) == 0
    assert _builds(lambda: vehicle_order_list(user=staff_user, offset=12, limit=3)) == 0
    assert _builds(lambda: [_page(user, o) for o in (0, 4, 19, 23)]) == 0  # within a step of an end
