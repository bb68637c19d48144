"""The list query is served by the composite indexes (B5), checked with EXPLAIN on MariaDB."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from billing.tenancy import personal_account
from orders.models.vehicle import VehicleOrder
from orders.selectors.vehicle import vehicle_order_list, vehicle_order_list_queryset
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
