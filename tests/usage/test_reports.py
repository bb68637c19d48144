"""Reports count only money that moved (issue 15): the API, the command and the admin page agree,
paid records and refunds are counted in the period their ledger entry was booked, arrears are shown
beside the money, unpaid and canceled records are left out; CSV exports hold data rows only and use
the calendar of ``TALLY_TIME_ZONE``; ``--chart`` and every message go to stderr.

Every operation of the fixture runs under ``config.clock.simulated_now``, so ledger entries carry
the simulated moment as they do under ``run_billing --at``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import LedgerEntry
from config.clock import simulated_now
from config.money_sql import money_sum
from orders.package.metering import meter_events_ingest
from orders.package.services import package_order_cancel
from orders.purchase.renewal import renewal_run
from orders.purchase.services import purchase_order_cancel, purchase_order_create
from orders.purchase.switch import purchase_order_modify
from plans.models import BillingMode, Cycle
from tests.orders.package.factories import create_order, make_catalog
from tests.orders.purchase.helpers import account_of, assert_ledger, local, make_plan
from usage.models import UsageRecord, UsageStatus
from usage.selectors import daily_series, month_range, usage_report

pytestmark = pytest.mark.django_db


@contextmanager
def at(dt: datetime) -> Iterator[datetime]:
    with simulated_now(dt):
        yield dt


def charged(account: Any, start: datetime, end: datetime) -> Decimal:
    """What the ledger says was charged net of refunds in ``[start, end)``."""
    entries = LedgerEntry.objects.filter(
        account=account, kind__in=["charge", "refund"], created_at__gte=start, created_at__lt=end
    )
    return -money_sum(entries)


@pytest.fixture
def history(user, make_user):
    """alice: two monthly orders (one renewed in March for its April period), one hourly, one package
    order never charged and one canceled; bob: an order switched down (a refund); carol: a postpaid
    order billed into arrears."""
    with at(local(2026, 3, 1)):
        alice = account_of(user, "1000")
        bob_user, carol_user = make_user("bob"), make_user("carol")
        bob = account_of(bob_user, "1000")
        carol = account_of(carol_user, "0")
        make_plan("vol-50g", "30")
        make_plan("vol-100g", "50")
        make_plan("vol-10g", "1")
        make_plan("cpu-hour", "2", plan_type="cpu", region="", mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
        make_plan("net-gb", "0.5", plan_type="net", region="", mode=BillingMode.POSTPAID, cycle=Cycle.DAY)
        make_catalog()
    with at(local(2026, 3, 5)) as t:
        a1 = purchase_order_create(
            account=alice, creator=user, region="cn-north-1", plan_id="vol-50g", at=t
        ).order
    with at(local(2026, 3, 7)) as t:
        b1 = purchase_order_create(
            account=bob, creator=bob_user, region="cn-north-1", plan_id="vol-50g", at=t
        ).order
        c1 = purchase_order_create(
            account=carol, creator=carol_user, region="cn-east-1", plan_id="net-gb", at=t
        ).order
    with at(local(2026, 3, 10)) as t:
        create_order(alice, ext="never-paid", at=t)  # 31.20 of unpaid records
        gone = create_order(alice, ext="canceled", at=t)
        package_order_cancel(order_pk=gone.order.pk, at=t)
    with at(local(2026, 3, 17)) as t:
        purchase_order_modify(order_pk=b1.pk, plan_id="vol-10g", at=t)  # credit 20.32, new 1: refund 19.32
    with at(local(2026, 3, 20)) as t:
        a2 = purchase_order_create(
            account=alice, creator=user, region="cn-north-1", plan_id="vol-100g", quantities=2, at=t
        ).order
    with at(local(2026, 3, 21, 8)) as t:
        a3 = purchase_order_create(
            account=alice, creator=user, region="cn-east-1", plan_id="cpu-hour", at=t
        ).order
        meter_events_ingest(
            account_id=carol.pk,
            events=[{"event_id": "e1", "instance": c1.order_id, "quantity": "9", "timestamp": t.isoformat()}],
        )
    with at(local(2026, 3, 22)) as t:
        purchase_order_cancel(order_pk=c1.pk, at=t)  # bills 9 x 0.5 = 4.50, carol has nothing: arrears
    with at(local(2026, 3, 29, 12)) as t:
        renewal_run(at=t, chunk_size=10)  # a1's period from Apr 5, paid now: March money
    return {"alice": alice, "bob": bob, "carol": carol, "a1": a1, "a2": a2, "a3": a3, "b1": b1, "c1": c1}


MARCH = month_range(date(2026, 3, 1))
HALF_HOUR = timedelta(minutes=30)
APRIL = month_range(date(2026, 4, 1))


def test_report_counts_the_money_that_moved(history):
    report = usage_report(start=MARCH[0], end=MARCH[1], group_by="account")
    rows = {r["namespace"]: r for r in report.rows}
    # alice: 30 + 100 + 2 + the renewal of a1 (30, paid on Mar 29 for April): not the unpaid 31.20
    assert rows["alice"]["amount"] == Decimal("162") and rows["alice"]["records"] == 4
    # bob: 30, then the switch: +1 (new plan) -20.32 (credit)
    assert rows["bob"]["amount"] == Decimal("10.68") and rows["bob"]["records"] == 3
    # carol paid nothing: 4.50 is owed, beside the money; her 14 days without traffic were settled at 0
    assert (rows["carol"]["amount"], rows["carol"]["records"]) == (Decimal("0"), 14)
    assert (rows["carol"]["arrears"], rows["carol"]["arrears_records"]) == (Decimal("4.5"), 1)
    assert report.total == Decimal("172.68") and report.arrears == Decimal("4.5")
    for name in ("alice", "bob", "carol"):
        assert rows[name]["amount"] == charged(history[name], *MARCH), name
    assert usage_report(start=APRIL[0], end=APRIL[1]).total == 0  # nothing moved in April
    excluded = UsageRecord.objects.filter(status__in=[UsageStatus.UNPAID, UsageStatus.CANCELED])
    assert excluded.count() == 4  # the sys and cpu records of the two package orders (net is postpaid)


def test_report_per_order(history):
    report = usage_report(start=MARCH[0], end=MARCH[1], group_by="order", account_ids=[history["alice"].pk])
    by_order = {r["order_id"]: r["amount"] for r in report.rows}
    assert by_order == {
        history["a1"].order_id: Decimal("60"),
        history["a2"].order_id: Decimal("100"),
        history["a3"].order_id: Decimal("2"),
    }
    assert sum(by_order.values()) == report.total == charged(history["alice"], *MARCH)


def test_reports_api_json_and_csv(api, staff_api, history):
    r = api.get("/usageapi/v1/reports?period=2026-03")
    data = r.json()["data"]
    assert data["total"] == "162.00" and data["records"] == 4 and data["arrears"] == "0.00"
    assert (data["first_day"], data["last_day"], data["time_zone"]) == (
        "2026-03-01",
        "2026-03-31",
        "Asia/Shanghai",
    )
    assert data["from"] == "2026-03-01T00:00:00+08:00"
    assert sum(Decimal(row["money"]) for row in data["rows"]) == Decimal(data["total"])
    r = staff_api.get("/usageapi/v1/reports?period=2026-03&group_by=account")
    data = r.json()["data"]
    assert (data["total"], data["arrears"], data["arrears_records"]) == ("172.68", "4.50", 1)
    assert (
        staff_api.get("/usageapi/v1/reports?period=2026-03&namespace=bob").json()["data"]["total"] == "10.68"
    )
    r = api.get("/usageapi/v1/reports?period=2026-03&format=csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert 'filename="usage-20260301-20260331.csv"' in r["Content-Disposition"]  # local days, not UTC
    rows = list(csv.reader(io.StringIO(r.content.decode())))
    assert rows[0] == [
        "namespace",
        "order_id",
        "region",
        "plan_id",
        "money",
        "records",
        "arrears",
        "arrears_records",
        "gross",
        "discount",
        "corrections",
        "correction_records",
    ]
    assert len(rows) == 4 and all(row[0] == "alice" for row in rows[1:])  # data rows only: no TOTAL row
    assert sum(Decimal(row[4]) for row in rows[1:]) == Decimal("162.00")  # a spreadsheet's SUM is right
    assert (r["X-Report-Money"], r["X-Report-Records"], r["X-Report-First-Day"]) == (
        "162.00",
        "4",
        "2026-03-01",
    )
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


def test_december_is_december(api, user):
    """The issue's example: the December chart and CSV say 2026-12-01 - 2026-12-31, not 11-30."""
    account_of(user, "100")
    r = api.get("/usageapi/v1/reports?period=2026-12&format=csv")
    assert 'filename="usage-20261201-20261231.csv"' in r["Content-Disposition"]
    assert r["X-Report-Last-Day"] == "2026-12-31"
    out = io.StringIO()
    call_command("usage_report", "--period", "2026-12", stdout=out)
    assert out.getvalue().startswith("2026-12-01 - 2026-12-31 (Asia/Shanghai)")


def test_daily_series_sums_per_local_day(history):
    series = daily_series(start=MARCH[0], end=MARCH[1], by="order")
    assert sum(a for _, _, a in series) == Decimal("172.68")
    got = {(d.isoformat(), k): a for d, k, a in series}
    assert got[("2026-03-05", "vol-50g")] == Decimal("30")
    assert got[("2026-03-29", "vol-50g")] == Decimal("30")  # the renewal, on the day it was paid
    assert got[("2026-03-21", "cpu-hour")] == Decimal("2")
    assert got[("2026-03-17", "vol-50g")] == Decimal("-20.32") and got[("2026-03-17", "vol-10g")] == 1
    by_account = daily_series(start=MARCH[0], end=MARCH[1], by="account")
    assert {k: a for _, k, a in by_account if k == "carol"} == {"carol": Decimal("0")}  # owed, not paid


def test_daily_series_uses_exact_local_midnights(user):
    """A record paid at 23:30 local on Mar 4 is Mar 4 (16:30 UTC) and one at 00:30 on Mar 5 is Mar 5."""
    account = account_of(user, "100")
    make_plan("vol-50g", "30")
    make_plan("vol-1g", "1")
    for t, plan in (
        (local(2026, 3, 4, 23) + HALF_HOUR, "vol-50g"),
        (local(2026, 3, 5) + HALF_HOUR, "vol-1g"),
    ):
        with at(t):
            purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id=plan, at=t)
    series = {(d.isoformat(), k): a for d, k, a in daily_series(start=MARCH[0], end=MARCH[1])}
    assert series == {("2026-03-04", "vol-50g"): Decimal("30"), ("2026-03-05", "vol-1g"): Decimal("1")}


def test_usage_report_command(history, tmp_path: Path):
    out, err = io.StringIO(), io.StringIO()
    call_command("usage_report", "--period", "2026-03", "--namespace", "alice", stdout=out, stderr=err)
    assert "TOTAL 162.00 in 4 record(s); arrears 0.00 in 0 record(s)" in out.getvalue()
    target = tmp_path / "r.json"
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "usage_report", "--from", "2026-03-01", "--to", "2026-04-01", "--by", "account", "--format", "json",
        "--output", str(target), stdout=out, stderr=err,
    )  # fmt: skip
    assert out.getvalue() == "" and "report written to" in err.getvalue()
    data = json.loads(target.read_text())
    assert (Decimal(data["total"]), Decimal(data["arrears"])) == (Decimal("172.68"), Decimal("4.5"))
    # csv on stdout: the data rows only, machine-readable; the totals line on stderr
    out, err = io.StringIO(), io.StringIO()
    call_command("usage_report", "--period", "2026-03", "--format", "csv", stdout=out, stderr=err)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][0] == "namespace" and {r[0] for r in rows[1:]} == {"alice", "bob", "carol"}
    assert sum(Decimal(r[4]) for r in rows[1:]) == Decimal("172.68")
    assert "TOTAL 172.68" in err.getvalue()
    # csv to a file: the totals in a file of their own
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "usage_report", "--period", "2026-03", "--format", "csv", "--output", str(tmp_path / "m.csv"),
        stdout=out, stderr=err,
    )  # fmt: skip
    totals = list(csv.DictReader(io.StringIO((tmp_path / "m.totals.csv").read_text())))
    assert totals == [
        {
            "first_day": "2026-03-01", "last_day": "2026-03-31", "time_zone": "Asia/Shanghai",
            "group_by": "order", "money": "172.68", "records": "21", "arrears": "4.50",
            "arrears_records": "1", "gross": "172.68", "discount": "0.00", "corrections": "0.00",
            "correction_records": "0",
        }
    ]  # fmt: skip
    for chart in ("c.png", "c.svg"):
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "usage_report", "--period", "2026-03", "--format", "json", "--chart", str(tmp_path / chart),
            stdout=out, stderr=err,
        )  # fmt: skip
        assert (tmp_path / chart).stat().st_size > 1000
        assert Decimal(json.loads(out.getvalue())["total"]) == Decimal("172.68")  # stdout: only the JSON
        assert f"chart written to {tmp_path / chart}" in err.getvalue()
    assert "2026-03-01 - 2026-03-31" in (tmp_path / "c.svg").read_text()  # the title, local days
    with pytest.raises(CommandError):
        call_command("usage_report", "--period", "03-2026")
    with pytest.raises(CommandError):
        call_command("usage_report", "--period", "2026-03", "--namespace", "nobody")
    for name in ("alice", "bob", "carol"):
        assert_ledger(history[name])


def test_admin_report_page_shows_table_and_chart(history, make_user):
    from django.test import Client

    boss = make_user("boss", superuser=True)
    c = Client()
    c.force_login(boss)
    r = c.get("/admin/usage/usagerecord/report/?period=2026-03&by=account")
    assert r.status_code == 200
    body = r.content.decode()
    assert "<svg" in body and "CNY 172.68" in body and "CNY 4.50" in body  # config.display money
    assert c.get("/admin/usage/usagerecord/report/?period=bad").status_code == 200
