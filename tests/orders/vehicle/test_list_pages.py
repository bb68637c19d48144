"""The list at any depth (B5): the per-owner count behind ``total``, pages read from either end of
the index, and the ``after`` cursor, each compared with the naive ``ORDER BY ... OFFSET`` queryset."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.tenancy import personal_account
from orders.vehicle.counts import vehicle_order_counts_rebuild
from orders.vehicle.errors import VehicleOrderStateError
from orders.vehicle.models import VehicleOrder, VehicleOrderOwnerCount
from orders.vehicle.selectors import (
    vehicle_order_cursor,
    vehicle_order_list,
    vehicle_order_list_after,
)
from orders.vehicle.services import (
    vehicle_order_cancel,
    vehicle_order_pay,
    vehicle_order_underwrite,
    vehicle_orders_advance,
)
from tests.orders.vehicle.factories import fund, make_driver_order, make_order, make_plan_order

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _counted(user: Any) -> int | None:
    return VehicleOrderOwnerCount.objects.filter(owner=user).values_list("total", flat=True).first()


def _naive(user: Any, **filters: Any) -> list[int]:
    qs = VehicleOrder.objects.all() if user.is_staff else VehicleOrder.objects.filter(owner=user)
    return list(qs.filter(**filters).order_by("-updated_at", "-id").values_list("id", flat=True))


def _orders(user: Any, n: int) -> list[VehicleOrder]:
    """``n`` orders of all three types; ``updated_at`` set so that several share one value (ties by
    id) and the update order differs from the insert order."""
    orders = [make_order(user, i % 3) for i in range(n)]
    for i, order in enumerate(orders):
        stamp = T0 + timedelta(minutes=(i * 7) % 11)  # 11 distinct values, so ties
        VehicleOrder.objects.filter(pk=order.pk).update(updated_at=stamp, state_code=1 + i % 9)
    return orders


def test_the_count_follows_placements_state_changes_and_deletes(make_user: Any, staff_user: Any) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    fund(alice, "100000")
    assert _counted(alice) is None  # nothing placed yet: no row, the list counts
    plan = make_plan_order(alice)
    driver = make_driver_order(alice)
    others = [make_order(alice, t) for t in (0, 1, 2, 2)]
    make_driver_order(bob)
    assert _counted(alice) == 6 and _counted(bob) == 1
    vehicle_order_pay(order_id=plan.order_id, actor=alice)
    vehicle_order_pay(order_id=driver.order_id, actor=alice)
    vehicle_order_underwrite(order_id=plan.order_id, actor=staff_user, result="approved")
    vehicle_orders_advance(now=datetime(2031, 1, 1, tzinfo=UTC))  # take effect, then expire
    vehicle_order_cancel(order_id=others[0].order_id, actor=alice)
    with pytest.raises(VehicleOrderStateError):  # a refused move changes nothing
        vehicle_order_cancel(order_id=others[0].order_id, actor=alice)
    assert _counted(alice) == 6 == VehicleOrder.objects.filter(owner=alice).count()
    assert vehicle_order_list(user=alice, offset=0, limit=30)[0] == 6
    others[1].delete()  # the ORM's deletes (nothing in the app deletes orders) are counted too
    VehicleOrder.objects.filter(pk__in=[others[2].pk, others[3].pk]).delete()
    assert _counted(alice) == 3 == VehicleOrder.objects.filter(owner=alice).count()
    assert _counted(bob) == 1
    total, page = vehicle_order_list(user=alice, offset=0, limit=30)
    assert total == 3 and [o.pk for o in page] == _naive(alice)


def test_the_unfiltered_list_reads_the_count_not_count_star(user: Any) -> None:
    _orders(user, 12)
    with CaptureQueriesContext(connection) as deep:
        total, page = vehicle_order_list(user=user, offset=9, limit=5)
    sql = [q["sql"].upper() for q in deep.captured_queries]
    assert total == 12 and [o.pk for o in page] == _naive(user)[9:14]
    assert len(sql) == 3 and not any("COUNT(" in s for s in sql)  # count row, ids, rows
    with CaptureQueriesContext(connection) as past:
        total, page = vehicle_order_list(user=user, offset=12, limit=5)
    assert total == 12 and page == [] and len(past.captured_queries) == 1  # nothing past the end
    with CaptureQueriesContext(connection) as filtered:
        total, page = vehicle_order_list(user=user, offset=0, limit=5, type=1)
    assert total == 4 and any("COUNT(" in q["sql"].upper() for q in filtered.captured_queries)


@pytest.mark.parametrize("limit", [1, 3, 7, 30])
def test_every_page_forward_and_reverse_equals_the_naive_queryset(
    limit: int, make_user: Any, staff_user: Any
) -> None:
    me, other = make_user("me"), make_user("other")
    _orders(me, 23)
    _orders(other, 5)
    for user, filters in [
        (me, {}),
        (me, {"type": 2}),
        (me, {"state_code": 3}),
        (staff_user, {}),
        (staff_user, {"type": 0}),
    ]:
        want = _naive(user, **filters)
        for offset in range(len(want) + 2):
            total, page = vehicle_order_list(user=user, offset=offset, limit=limit, **filters)
            assert total == len(want), (filters, offset)
            assert [o.pk for o in page] == want[offset : offset + limit], (user, filters, offset, limit)


def test_page_size_api_pages_equal_the_naive_queryset(api: Any, user: Any) -> None:
    orders = _orders(user, 17)
    by_pk = {o.pk: str(o.order_id) for o in orders}
    want = [by_pk[pk] for pk in _naive(user)]
    got: list[str] = []
    for page in range(1, 5):
        data = api.get(f"/api/v1/orders?page={page}&size=5").json()["data"]
        assert data["total"] == 17
        got += [r["order_id"] for r in data["results"]]
        assert (data["next"] is None) == (page == 4)
    assert got == want
    for offset in (0, 8, 9, 15, 16):
        data = api.get(f"/api/v1/orders?offset={offset}&limit=4").json()["data"]
        assert [r["order_id"] for r in data["results"]] == want[offset : offset + 4]


def test_a_missing_count_row_counts_and_the_first_placement_starts_from_the_table(user: Any) -> None:
    account = personal_account(user)
    VehicleOrder.objects.bulk_create(
        [
            VehicleOrder(
                order_no=f"IMPORT-{i}",
                type=1,
                vid=uuid.uuid4(),
                owner=user,
                account=account,
                summary=Decimal("1"),
                payment=Decimal("1"),
            )  # fmt: skip
            for i in range(4)
        ]
    )
    assert _counted(user) is None
    assert vehicle_order_list(user=user, offset=0, limit=2)[0] == 4  # falls back to COUNT(*)
    make_driver_order(user)  # the first counted order: the row starts at COUNT(*), imports included
    assert _counted(user) == 5
    VehicleOrder.objects.bulk_create(
        [
            VehicleOrder(
                order_no="IMPORT-late",
                type=1,
                vid=uuid.uuid4(),
                owner=user,
                account=account,
                summary=Decimal("1"),
                payment=Decimal("1"),
            )  # fmt: skip
        ]
    )
    assert _counted(user) == 5  # rows written around the services are not seen...
    assert vehicle_order_counts_rebuild(owner_ids=[user.pk]) == 1  # ...until they are recounted
    assert _counted(user) == 6
    VehicleOrderOwnerCount.objects.filter(owner=user).update(total=999)
    assert vehicle_order_counts_rebuild() == 1
    assert _counted(user) == 6


def _walk(client: Any, query: str) -> tuple[list[str], int]:
    data = client.get(f"/api/v1/orders?{query}").json()["data"]
    got = [r["order_id"] for r in data["results"]]
    requests = 1
    while data["next"]:
        res = client.get(f"/api/v1/orders?{query}&after={data['next']}")
        assert res.status_code == 200, res.content
        data = res.json()["data"]
        got += [r["order_id"] for r in data["results"]]
        requests += 1
    return got, requests


def test_the_after_cursor_walks_every_order_once_in_order(api: Any, user: Any, make_user: Any) -> None:
    orders = _orders(user, 23)
    _orders(make_user("someone"), 4)
    by_pk = {o.pk: str(o.order_id) for o in orders}
    got, requests = _walk(api, "limit=5")
    assert got == [by_pk[pk] for pk in _naive(user)] and requests == 5
    got, _ = _walk(api, "size=4&type=2")
    assert got == [by_pk[pk] for pk in _naive(user, type=2)]
    got, _ = _walk(api, "limit=100")
    assert len(got) == 23
    # A page that ends exactly at the end says so.
    data = api.get("/api/v1/orders?offset=20&limit=3").json()["data"]
    assert len(data["results"]) == 3 and data["next"] is None


def test_the_cursor_holds_its_place_when_its_order_changes(user: Any) -> None:
    fund(user, "100000")
    _orders(user, 10)
    total, first, more = vehicle_order_list_after(user=user, after=None, limit=4)
    assert total == 10 and more and [o.pk for o in first] == _naive(user)[:4]
    cursor = vehicle_order_cursor(first[-1])
    rest = _naive(user)[4:]
    VehicleOrder.objects.filter(pk=first[-1].pk).update(state_code=1, state="created")
    vehicle_order_pay(order_id=first[-1].order_id, actor=user)  # moves to the top of the list
    _, page, more = vehicle_order_list_after(user=user, after=cursor, limit=4)
    assert [o.pk for o in page] == rest[:4] and more
    _, page, more = vehicle_order_list_after(user=user, after=vehicle_order_cursor(page[-1]), limit=4)
    assert [o.pk for o in page] == rest[4:] and not more


def test_bad_cursors_are_3307_naming_after(api: Any, user: Any, make_user: Any, client_for: Any) -> None:
    mine = make_driver_order(user)
    bobs = make_driver_order(make_user("bob"))
    for token in ("garbage!", "x" * 101, "MTIz", vehicle_order_cursor(bobs)):
        res = api.get(f"/api/v1/orders?after={token}")
        assert res.status_code == 400 and res.json()["code"] == 3307, token
        assert set(res.json()["data"]["errors"]) == {"after"}
        assert str(bobs.order_id) not in res.content.decode()
    for query in ("offset=0", "page=1"):
        res = api.get(f"/api/v1/orders?{query}&after={vehicle_order_cursor(mine)}")
        assert res.status_code == 400 and set(res.json()["data"]["errors"]) == {"after"}
    ok = api.get(f"/api/v1/orders?after={vehicle_order_cursor(mine)}&limit=5").json()["data"]
    assert ok == {"total": 1, "results": [], "next": None}
    assert client_for(make_user("bob2")).get("/api/v1/orders?after=").json()["data"]["total"] == 0


def test_the_api_list_costs_four_queries_at_any_size_and_depth(api: Any, user: Any) -> None:
    """Token, count row, ids, rows (with owner, wallet and plan): no COUNT(*), no query per row
    (the deferred columns of the joined rows are never read by the serializer)."""
    _orders(user, 3)
    sale = make_order(user, 2)
    expected = {
        str(sale.order_id): {"owner": user.username, "namespace": user.username, "plan_id": sale.plan.plan_id}
    }
    for query in ("limit=30", "offset=3&limit=1"):
        with CaptureQueriesContext(connection) as small:
            assert api.get(f"/api/v1/orders?{query}").status_code == 200
        assert len(small.captured_queries) == 4, [q["sql"] for q in small.captured_queries]
    _orders(user, 20)
    with CaptureQueriesContext(connection) as large:
        data = api.get("/api/v1/orders?offset=20&limit=30").json()["data"]
    assert len(large.captured_queries) == 4 and data["total"] == 24 and len(data["results"]) == 4
    assert not any("COUNT(" in q["sql"].upper() for q in large.captured_queries)
    rows = {r["order_id"]: r for r in api.get("/api/v1/orders?limit=100").json()["data"]["results"]}
    for order_id, fields in expected.items():
        assert {k: rows[order_id][k] for k in fields} == fields
