"""``GET /usageapi/v1/usages`` (the origin's time range, paged in the database) and
``GET /usageapi/v1/speed`` (every running subscription, package instances included, at the price
actually charged for the current period)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.package.instances import instance_change_config, instance_renew
from orders.package.services import package_order_charge
from orders.package.specs import ComponentChange
from orders.purchase.services import purchase_order_create
from orders.purchase.switch import purchase_order_modify
from tests.orders.package.factories import create_order, make_catalog
from tests.orders.purchase.helpers import account_of, add_price, local, make_plan
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(user):
    """Six records of alice, one a day from Mar 1 (their ``time`` set to 10:00 local each day)."""
    account = account_of(user, "1000")
    make_plan("vol-1g", "1")
    for day in range(1, 7):
        order = purchase_order_create(
            account=account, creator=user, region="cn-north-1", plan_id="vol-1g", at=local(2026, 3, day, 10)
        ).order
        UsageRecord.objects.filter(order_ref=order.order_id).update(created_at=local(2026, 3, day, 10))
    return account


def _days(api, query: str) -> list[int]:
    r = api.get(f"/usageapi/v1/usages?{query}")
    assert r.status_code == 200, r.content
    return [int(u["time"][8:10]) for u in r.json()["data"]["results"]]


def test_usages_time_range_starttime_endtime_and_from_to(api, records):
    assert _days(api, "") == [6, 5, 4, 3, 2, 1]
    # starttime inclusive, endtime exclusive; dates are local midnights, naive times are local
    assert _days(api, "starttime=2026-03-02&endtime=2026-03-05") == [4, 3, 2]
    assert _days(api, "from=2026-03-02&to=2026-03-05") == [4, 3, 2]
    assert _days(api, "starttime=2026-03-04T10:00:00") == [6, 5, 4]
    assert _days(api, "endtime=2026-03-04T02:00:00%2B00:00") == [3, 2, 1]  # 10:00 local on Mar 4 is 02:00Z
    assert _days(api, "starttime=2026-03-02&from=2026-03-02") == [6, 5, 4, 3, 2]  # both, same value
    r = api.get("/usageapi/v1/usages?starttime=2026-03-05&endtime=2026-03-02&size=2&page=1")
    assert (r.status_code, r.json()["code"]) == (400, 3307)
    assert "endtime" in r.json()["data"]["errors"]
    for bad, field in (
        ("starttime=yesterday", "starttime"),
        ("from=2026-03-01&starttime=2026-03-02", "from"),
    ):
        r = api.get(f"/usageapi/v1/usages?{bad}")
        assert (r.status_code, r.json()["code"]) == (400, 3307), bad
        assert field in r.json()["data"]["errors"], bad


def test_usages_are_paged_in_the_database(api, records):
    with CaptureQueriesContext(connection) as queries:
        r = api.get("/usageapi/v1/usages?size=2&page=2&starttime=2026-03-01")
    data = r.json()["data"]
    assert data["total"] == 6 and [int(u["time"][8:10]) for u in data["results"]] == [4, 3]
    listing = [
        q["sql"]
        for q in queries.captured_queries
        if "usage_usagerecord" in q["sql"] and "COUNT" not in q["sql"]
    ]
    # the page's ids from the index (LIMIT/OFFSET in the database), then those rows by primary key
    assert len(listing) == 2 and "LIMIT 2" in listing[0] and "OFFSET 2" in listing[0], listing
    assert "LIMIT" not in listing[1] and " IN (" in listing[1], listing
    r = api.get("/usageapi/v1/usages?size=2&page=4")
    assert (r.status_code, r.json()["code"]) == (400, 3307)


def _speed(api, **params) -> dict:
    r = api.get("/usageapi/v1/speed", params)
    assert r.status_code == 200, r.content
    return r.json()["data"]


def test_speed_counts_package_instances_and_the_price_charged(api, user):
    account = account_of(user, "1000")
    make_catalog()
    plan = make_plan("vol-50g", "31")
    start = local(2026, 3, 1)
    order = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="vol-50g", at=start
    ).order
    add_price(plan, "62", local(2026, 3, 10))  # the catalog doubles; the March period was paid at 31
    package = create_order(account, ext="i-1", cpu="2", at=start)
    package_order_charge(order_pk=package.order.pk, at=start)
    at = (local(2026, 3, 1) + timedelta(minutes=20)).isoformat()  # inside the paid cpu hour
    data = _speed(api, time=at)
    # vol-50g: 31 over Mar 1 -> Apr 1 (744 h); vm: sys 30 over the same month, cpu 1.2 for its paid hour
    per_hour = Decimal(31) / 744 + Decimal(30) / 744 + Decimal("1.2")
    assert data["orders"] == 2
    assert data["per_hour"] == str(per_hour.quantize(Decimal("0.01")))
    assert data["per_day"] == str((per_hour * 24).quantize(Decimal("0.01")))
    # later in the month the cpu hour is not paid (no billing run): only the prepaid parts
    later = _speed(api, time=local(2026, 3, 15).isoformat())
    assert (
        Decimal(later["per_hour"]) == (Decimal(61) / 744).quantize(Decimal("0.01")) and later["orders"] == 2
    )
    # one order only
    one = _speed(api, order=order.order_id, time=local(2026, 3, 15).isoformat())
    assert (one["orders"], one["per_day"]) == (1, str((Decimal(31) / 744 * 24).quantize(Decimal("0.01"))))
    assert _speed(api, time=local(2026, 2, 1).isoformat())["orders"] == 0
    r = api.get("/usageapi/v1/speed?time=yesterday")
    assert (r.status_code, r.json()["code"]) == (400, 3307)


def test_speed_follows_switches_renewals_and_changes(api, user):
    account = account_of(user, "1000")
    make_catalog()
    make_plan("vol-50g", "31")
    make_plan("vol-100g", "62")
    start = local(2026, 3, 1)
    order = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="vol-50g", at=start
    ).order
    purchase_order_modify(order_pk=order.pk, plan_id="vol-100g", at=local(2026, 3, 11))
    # the switched order ended: only the new one, 62 over its own month (Mar 11 -> Apr 11: 744 h)
    data = _speed(api, time=local(2026, 3, 12).isoformat())
    assert (data["orders"], Decimal(data["per_hour"])) == (1, (Decimal(62) / 744).quantize(Decimal("0.01")))
    package = create_order(account, ext="i-1", cpu="2", at=start)
    package_order_charge(order_pk=package.order.pk, at=start)
    instance_renew(prod_inst_id_ext="i-1", duration="2", at=local(2026, 3, 20))  # 60 over Apr 1 -> Jun 1
    may = _speed(api, time=local(2026, 5, 2).isoformat())
    assert may["orders"] == 1  # vol-100g was paid until Apr 11 only; the instance's sys until Jun 1
    assert Decimal(may["per_hour"]) == (Decimal(60) / (61 * 24)).quantize(Decimal("0.01"))
    # a configuration change adds the new rate for the rest of the period: cpu 2 -> 4 inside the
    # first paid hour is 1.20 + a change record of 1.20 for the rest of that hour
    instance_change_config(
        prod_inst_id_ext="i-1", plan_id="vm-std", changes=[ComponentChange("cpu", {"cpu": "4"})], at=start
    )
    early = _speed(api, time=(start + timedelta(minutes=10)).isoformat())
    per_hour = Decimal(31) / 744 + Decimal(30) / 744 + Decimal("2.4")
    assert (early["orders"], early["per_hour"]) == (2, str(per_hour.quantize(Decimal("0.01"))))
