"""Usage history, reports (API and command, equal to the sum of the records) and speed."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Sum

from orders.services.purchase import purchase_order_create
from orders.services.renewal import renewal_run
from plans.models import BillingMode, Cycle
from tests.orders.purchase.helpers import account_of, assert_ledger, local, make_plan
from usage.models import UsageRecord
from usage.selectors import daily_series, month_range, usage_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(user, make_user):
    """alice: two monthly orders (one renewed into April) and one hourly; bob: one order."""
    alice = account_of(user, "1000")
    bob_user = make_user("bob")
    bob = account_of(bob_user, "1000")
    make_plan("vol-50g", "30")
    make_plan("vol-100g", "50")
    make_plan("cpu-hour", "2", plan_type="cpu", region="", mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
    a1 = purchase_order_create(
        account=alice, creator=user, region="cn-north-1", plan_id="vol-50g", at=local(2026, 3, 5)
    ).order
    a2 = purchase_order_create(
        account=alice,
        creator=user,
        region="cn-north-1",
        plan_id="vol-100g",
        quantities=2,
        at=local(2026, 3, 20),
    ).order
    a3 = purchase_order_create(
        account=alice, creator=user, region="cn-east-1", plan_id="cpu-hour", at=local(2026, 3, 21, 8)
    ).order
    b1 = purchase_order_create(
        account=bob, creator=bob_user, region="cn-north-1", plan_id="vol-50g", at=local(2026, 3, 7)
    ).order
    renewal_run(at=local(2026, 3, 29, 12), chunk_size=10)  # a1 renewed: the period from Apr 5 (April)
    return {"alice": alice, "bob": bob, "a1": a1, "a2": a2, "a3": a3, "b1": b1, "bob_user": bob_user}


def test_report_equals_the_sum_of_records(history):
    start, end = month_range(date(2026, 3, 1))
    report = usage_report(start=start, end=end, group_by="order")
    march = UsageRecord.objects.filter(period_start__gte=start, period_start__lt=end)
    assert report.total == march.aggregate(s=Sum("amount"))["s"] == Decimal("30") + 100 + 2 + 30
    assert report.records == march.count() == 4
    by_order = {r["order_id"]: r["amount"] for r in report.rows}
    assert by_order[history["a2"].order_id] == Decimal("100")
    assert sum(by_order.values()) == report.total
    per_account = usage_report(start=start, end=end, group_by="account")
    assert {r["namespace"]: r["amount"] for r in per_account.rows} == {
        "alice": Decimal("132"),
        "bob": Decimal("30"),
    }
    april = usage_report(start=end, end=month_range(date(2026, 4, 1))[1])
    assert april.total == Decimal("30") and april.rows[0]["order_id"] == history["a1"].order_id


def test_reports_api_json_and_csv(api, staff_api, history):
    r = api.get("/usageapi/v1/reports?period=2026-03")
    data = r.json()["data"]
    assert data["total"] == "132.00" and data["records"] == 3
    assert {row["order_id"] for row in data["rows"]} == {history[k].order_id for k in ("a1", "a2", "a3")}
    assert sum(Decimal(row["money"]) for row in data["rows"]) == Decimal(data["total"])
    r = api.get("/usageapi/v1/reports?from=2026-03-01&to=2026-05-01&group_by=account")
    assert r.json()["data"]["rows"] == [{"namespace": "alice", "money": "162.00", "records": 4}]
    # staff: every account when no namespace is named
    r = staff_api.get("/usageapi/v1/reports?period=2026-03&group_by=account")
    assert r.json()["data"]["total"] == "162.00"
    assert (
        staff_api.get("/usageapi/v1/reports?period=2026-03&namespace=bob").json()["data"]["total"] == "30.00"
    )
    r = api.get("/usageapi/v1/reports?period=2026-03&format=csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0] == ["namespace", "order_id", "region", "plan_id", "money", "records"]
    assert rows[-1][0] == "TOTAL" and rows[-1][4] == "132.00"
    for bad in (
        "period=2026-13",
        "period=2026-03&from=2026-03-01",
        "from=2026-03-02&to=2026-03-01",
        "",
        "period=2026-03&group_by=plan",
        "period=2026-03&format=xml",
    ):
        r = api.get(f"/usageapi/v1/reports?{bad}")
        assert (r.status_code, r.json()["code"]) == (400, 3307), bad


def test_usages_list_filters_and_paging(api, history):
    r = api.get("/usageapi/v1/usages")
    data = r.json()["data"]
    assert data["total"] == 4
    first = data["results"][0]
    assert set(first) == {
        "id",
        "order_id",
        "namespace",
        "region",
        "plan_id",
        "kind",
        "time",
        "period_start",
        "period_end",
        "money",
    }
    assert first["kind"] == "renew" and first["money"] == "30.00"  # newest first
    a2 = history["a2"]
    for ident in (a2.pk, a2.order_id):
        res = api.get(f"/usageapi/v1/usages?order={ident}").json()["data"]["results"]
        assert [(u["order_id"], u["money"]) for u in res] == [(a2.order_id, "100.00")]
    assert api.get("/usageapi/v1/usages?region=cn-east-1").json()["data"]["total"] == 1
    page = api.get("/usageapi/v1/usages?size=3&page=2").json()["data"]
    assert page["total"] == 4 and len(page["results"]) == 1
    r = api.get(f"/usageapi/v1/usages?order={history['b1'].order_id}")
    assert (r.status_code, r.json()["code"]) == (404, 3318)
    assert api.get("/usageapi/v1/usages?size=0").json()["code"] == 3307


def test_speed_for_one_order_and_for_an_account(api, history):
    at = local(2026, 3, 22).isoformat()
    # a2: 2 x 50 over Mar 20 -> Apr 20 (31 days = 744 h)
    r = api.get("/usageapi/v1/speed", {"order": history["a2"].order_id, "time": at})
    data = r.json()["data"]
    per_hour = Decimal(100) / 744
    assert data["orders"] == 1
    assert data["per_hour"] == str(per_hour.quantize(Decimal("0.01")))
    assert data["per_day"] == str((per_hour * 24).quantize(Decimal("0.01")))  # 3.23
    # account: a1 30/(Mar 5 -> Apr 5 = 31 d) + a2 + a3 hourly 2/h
    expected = Decimal(30) / 744 + Decimal(100) / 744 + 2
    r = api.get("/usageapi/v1/speed", {"time": at})
    data = r.json()["data"]
    assert data["orders"] == 3
    assert Decimal(data["per_day"]) == (expected * 24).quantize(Decimal("0.01"))
    # before anything started: nothing
    assert (
        api.get("/usageapi/v1/speed", {"time": local(2026, 3, 1).isoformat()}).json()["data"]["orders"] == 0
    )
    r = api.get("/usageapi/v1/speed?time=yesterday")
    assert (r.status_code, r.json()["code"]) == (400, 3307)


def test_daily_series_sums_per_local_day(history):
    start, end = month_range(date(2026, 3, 1))
    series = daily_series(start=start, end=end, by="order")
    assert sum(a for _, _, a in series) == Decimal("162")
    days = {(d.isoformat(), k) for d, k, _ in series}
    assert ("2026-03-05", "vol-50g") in days and ("2026-03-21", "cpu-hour") in days
    by_account = daily_series(start=start, end=end, by="account")
    assert {k for _, k, _ in by_account} == {"alice", "bob"}


def test_usage_report_command(history, tmp_path: Path):
    out = io.StringIO()
    call_command("usage_report", "--period", "2026-03", "--namespace", "alice", stdout=out)
    assert "TOTAL 132.00 in 3 record(s)" in out.getvalue()
    target = tmp_path / "r.json"
    call_command(
        "usage_report",
        "--from",
        "2026-03-01",
        "--to",
        "2026-04-01",
        "--by",
        "account",
        "--format",
        "json",
        "--output",
        str(target),
        stdout=io.StringIO(),
    )
    data = json.loads(target.read_text())
    assert Decimal(data["total"]) == Decimal("162")
    out = io.StringIO()
    call_command("usage_report", "--period", "2026-03", "--format", "csv", stdout=out)
    assert out.getvalue().splitlines()[-1].startswith("TOTAL")
    for chart in ("c.png", "c.svg"):
        call_command(
            "usage_report", "--period", "2026-03", "--chart", str(tmp_path / chart), stdout=io.StringIO()
        )
        assert (tmp_path / chart).stat().st_size > 1000
    with pytest.raises(CommandError):
        call_command("usage_report", "--period", "03-2026")
    with pytest.raises(CommandError):
        call_command("usage_report", "--period", "2026-03", "--namespace", "nobody")
    assert_ledger(history["alice"])
    assert_ledger(history["bob"])


def test_time_field_and_future_records(history):
    later = UsageRecord.objects.filter(period_start__gte=local(2026, 4, 1))
    assert later.count() == 1 and later.first().period_start == history["a1"].start_time + timedelta(days=31)


def test_admin_report_page_shows_table_and_chart(history, make_user):
    from django.test import Client

    boss = make_user("boss", superuser=True)
    c = Client()
    c.force_login(boss)
    r = c.get("/admin/usage/usagerecord/report/?period=2026-03&by=account")
    assert r.status_code == 200
    body = r.content.decode()
    assert "<svg" in body and "162.0000" in body
    assert c.get("/admin/usage/usagerecord/report/?period=bad").status_code == 200
