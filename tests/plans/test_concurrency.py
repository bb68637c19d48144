"""Concurrent catalog writes on MariaDB: real threads, separate connections, row locks."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from config import clock
from plans import demo
from plans.catalog import catalog_import
from plans.models import Plan, PlanItem, PriceRule, PriceVersion
from plans.services import price_version_add
from tests.conftest import mariadb_only

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def run_threads(n: int, target: Any) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_concurrent_first_imports_create_everything_once():
    doc = demo.demo_document()
    reports: list[Any] = []
    errors = run_threads(4, lambda i: reports.append(catalog_import(doc)))
    assert errors == []
    assert Plan.objects.count() == len(doc["plans"])
    assert PriceVersion.objects.count() == sum(len(p.get("prices", [])) for p in doc["plans"])
    assert PriceRule.objects.count() == sum(len(p.get("rules", [])) for p in doc["plans"])
    assert PlanItem.objects.count() == 6
    created = [r for r in reports if r.created]
    assert len(created) == 1 and all(not r.changed for r in reports if r is not created[0])


def test_concurrent_price_versions_for_one_start_leave_one_row(make_user):
    catalog_import(demo.demo_document())
    staff = make_user("staffer", staff=True)
    plan = Plan.objects.get(plan_id="vol-50g")
    start = clock.now() + timedelta(days=45)
    errors = run_threads(
        6, lambda i: price_version_add(plan=plan, price=Decimal(20 + i), effective_from=start, actor=staff)
    )
    assert errors == []
    versions = PriceVersion.objects.filter(plan=plan, effective_from=start)
    assert versions.count() == 1 and Decimal(20) <= versions.get().price <= Decimal(25)
