"""The list query is served by the composite indexes (B5), checked with EXPLAIN on MariaDB."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.tenancy import personal_account
from orders.vehicle.counts import vehicle_order_counts_rebuild
from orders.vehicle.models import VehicleOrder
from orders.vehicle.selectors import (
    vehicle_order_cursor,
    vehicle_order_list,
    vehicle_order_list_after,
    vehicle_order_list_queryset,
)
from tests.conftest import mariadb_only

# ANALYZE TABLE commits implicitly on MariaDB, so this test owns its transactions (flushed after).
pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def _explain(sql: str, params: Any) -> list[dict[str, Any]]:
    with connection.cursor() as cur:
        cur.execute("EXPLAIN " + sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def test_list_query_uses_the_owner_index(make_user: Any) -> None:
    users = [make_user(f"lister{i}") for i in range(4)]
    rows = []
    for n in range(4000):
        u = users[n % 4]
        rows.append(
            VehicleOrder(
                order_no=f"VTEST-{n:06d}",
                type=n % 3,
                vid=uuid.uuid4(),
                owner=u,
                account=personal_account(u),
                summary=Decimal("1"),
                payment=Decimal("1"),
                state_code=1 + n % 9,
            )  # fmt: skip
        )
    VehicleOrder.objects.bulk_create(rows, batch_size=1000)
    with connection.cursor() as cur:
        cur.execute("ANALYZE TABLE " + VehicleOrder._meta.db_table)
        cur.fetchall()
    me = users[0]
    expectations = [
        ({}, "veh_ord_owner_upd"),
        ({"type": 1}, "veh_ord_owner_type_upd"),
        ({"state_code": 3}, "veh_ord_owner_state_upd"),
        ({"vid": rows[0].vid}, "veh_ord_owner_vid_upd"),
    ]
    for filters, index in expectations:
        qs = vehicle_order_list_queryset(user=me, **filters).values_list("id", flat=True)[500:530]
        sql, params = qs.query.sql_with_params()
        plan = _explain(sql, params)
        assert plan[0]["key"] == index, (filters, plan)
        assert "filesort" not in (plan[0]["Extra"] or ""), (filters, plan)
    total, page = vehicle_order_list(user=me, offset=990, limit=30)
    assert total == 1000 and len(page) == 10
    assert [p.updated_at for p in page] == sorted((p.updated_at for p in page), reverse=True)


def _ids_query(queries: list[dict[str, Any]]) -> str:
    (sql,) = [q["sql"] for q in queries if q["sql"].startswith("SELECT `orders_vehicleorder`.`id` AS `id`")]
    return sql


def test_deep_pages_and_cursors_use_the_owner_index(make_user: Any) -> None:
    """The statements the list really sends (captured, then EXPLAINed): a page in the older half
    reads the same index ascending, the ``after`` cursor seeks into it; never a filesort."""
    me, other = make_user("deep"), make_user("other")
    rows = [
        VehicleOrder(
            order_no=f"VDEEP-{n:06d}",
            type=n % 3,
            vid=uuid.uuid4(),
            owner=me if n % 3 else other,
            account=personal_account(me if n % 3 else other),
            summary=Decimal("1"),
            payment=Decimal("1"),
            state_code=1 + n % 9,
        )  # fmt: skip
        for n in range(3000)
    ]
    VehicleOrder.objects.bulk_create(rows, batch_size=1000)
    vehicle_order_counts_rebuild()
    with connection.cursor() as cur:
        cur.execute("ANALYZE TABLE " + VehicleOrder._meta.db_table)
        cur.fetchall()
    naive = list(
        VehicleOrder.objects.filter(owner=me).order_by("-updated_at", "-id").values_list("id", flat=True)
    )
    with CaptureQueriesContext(connection) as deep:
        total, page = vehicle_order_list(user=me, offset=1900, limit=30)
    assert total == 2000 and [o.pk for o in page] == naive[1900:1930]
    sql = _ids_query(deep.captured_queries)
    assert "ORDER BY `orders_vehicleorder`.`updated_at` ASC" in sql and "COUNT(" not in " ".join(
        q["sql"] for q in deep.captured_queries
    )
    plan = _explain(sql, None)
    assert plan[0]["key"] == "veh_ord_owner_upd" and "filesort" not in (plan[0]["Extra"] or ""), plan
    after = vehicle_order_cursor(page[-1])
    with CaptureQueriesContext(connection) as keyset:
        _, nxt, more = vehicle_order_list_after(user=me, after=after, limit=30)
    assert [o.pk for o in nxt] == naive[1930:1960] and more
    plan = _explain(_ids_query(keyset.captured_queries), None)
    assert plan[0]["key"] == "veh_ord_owner_upd" and "filesort" not in (plan[0]["Extra"] or ""), plan
    assert plan[0]["type"] == "range", plan
