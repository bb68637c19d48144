"""The finance dashboard: definitions (revenue = charges - refunds, ...), SVG output, access."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry
from billing.services import account_charge, account_credit, account_get_or_create, account_refund
from config.charts import svg_bar_chart, svg_hbar_chart
from config.clock import local_tz, month_of, month_start_utc
from config.clock import now as clock_now
from config.report_periods import report_period
from orders.dashboard.selectors import accounts_in_arrears, consumption_per_plan, recharges_in, revenue_by_day
from plans.models import Plan
from usage.models import UsageRecord
from usage.selectors import usage_report

pytestmark = pytest.mark.django_db


def _funded(namespace: str, amount: str) -> Any:
    account = account_get_or_create(namespace=namespace)
    account_credit(account_id=account.pk, amount=Decimal(amount), idempotency_key=f"seed-{namespace}")
    return account


def test_revenue_is_charges_minus_refunds_per_local_day() -> None:
    account = _funded("acme", "100")
    account_charge(account_id=account.pk, amount=Decimal("30"), idempotency_key="c1")
    account_charge(account_id=account.pk, amount=Decimal("12.5"), idempotency_key="c2")
    account_refund(account_id=account.pk, amount=Decimal("5"), idempotency_key="r1")
    old = account_charge(account_id=account.pk, amount=Decimal("7"), idempotency_key="c3").entry
    LedgerEntry.objects.filter(pk=old.pk).update(created_at=clock_now() - timedelta(days=2))
    ancient = account_charge(account_id=account.pk, amount=Decimal("1"), idempotency_key="c4").entry
    LedgerEntry.objects.filter(pk=ancient.pk).update(created_at=clock_now() - timedelta(days=40))

    today = clock_now().astimezone(local_tz()).date()
    period = report_period({"period": "custom", "from": str(today - timedelta(days=29)), "to": str(today)})
    with CaptureQueriesContext(connection) as queries:
        days = revenue_by_day(period)
    assert len(queries) == 1
    assert len(days) == 30
    assert days[-1].day == today
    assert days[-1].charges == Decimal("42.5") and days[-1].refunds == Decimal("5")
    assert days[-1].revenue == Decimal("37.5")
    two_days_ago = {d.day: d for d in days}[today - timedelta(days=2)]
    assert two_days_ago.revenue == Decimal("7")
    # recharges are not revenue; the 40-day-old charge is outside the window
    assert sum(d.revenue for d in days) == Decimal("44.5")


def _record(
    account: Any, plan: Plan | None, amount: str, status: str, *, line: int, start: Any
) -> UsageRecord:
    return UsageRecord.objects.create(
        account=account,
        source="purchase",
        order_ref=f"o{line}",
        line_id=line,
        period_key=f"p:{line}",
        plan=plan,
        period_start=start,
        period_end=start + timedelta(hours=1),
        unit_price=Decimal(amount),
        amount=Decimal(amount),
        kind="new",
        status=status,
    )


def test_consumption_per_plan_is_the_usage_report_and_arrears() -> None:
    a = account_get_or_create(namespace="a1")
    b = account_get_or_create(namespace="b1")
    big = Plan.objects.create(plan_id="big", name="Big", plan_type="volume")
    small = Plan.objects.create(plan_id="small", name="Small", plan_type="volume")
    start = month_start_utc(month_of(clock_now())) + timedelta(hours=1)
    now = clock_now()
    for n, (account, plan, amount, status) in enumerate(
        [(a, big, "50", "paid"), (b, big, "20", "arrears"), (b, small, "3", "arrears"),
         (a, small, "-1", "paid"), (a, small, "99", "canceled")],  # a refund; canceled is not consumption
        start=1,
    ):  # fmt: skip
        record = _record(account, plan, amount, status, line=n, start=start)
        if status == "paid":
            UsageRecord.objects.filter(pk=record.pk).update(paid_at=now)
    old = _record(a, big, "500", "paid", line=6, start=start - timedelta(days=40))  # paid last month
    UsageRecord.objects.filter(pk=old.pk).update(paid_at=now - timedelta(days=40))

    period = report_period({})
    result = consumption_per_plan(period)
    assert [(r["plan"], r["total"], r["arrears"]) for r in result["rows"]] == [
        ("big", Decimal("50"), Decimal("20")), ("small", Decimal("-1"), Decimal("3"))
    ]  # fmt: skip
    report = usage_report(start=period.start, end=period.end)
    assert result["total"] == report.total == Decimal("49")  # the dashboard's total is the report's
    assert result["arrears"] == report.arrears == Decimal("23")

    arrears = accounts_in_arrears()
    assert arrears["accounts"] == 1 and arrears["owed"] == Decimal("23")
    assert arrears["top"][0]["account__namespace"] == "b1" and arrears["top"][0]["records"] == 2


def test_recharges_in_the_period() -> None:
    account = _funded("acme", "100")
    account_credit(account_id=account.pk, amount=Decimal("20.5"), idempotency_key="more")
    done = recharges_in(report_period({}))
    assert done["amount"] == Decimal("120.5") and done["count"] == 2 and done["review_count"] == 0


def test_svg_charts_are_well_formed_and_escaped() -> None:
    points = [("a", Decimal("10")), ("<b>", Decimal("-5")), ("c", Decimal("0"))]
    svg = str(svg_bar_chart(points, title="T&T", currency="CNY"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 3 and 'class="tally-bar negative"' in svg
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "T&amp;T" in svg
    empty = str(svg_hbar_chart([], title="none", currency="CNY"))
    assert "no data" in empty
    # coordinates are plain numbers (no Decimal exponent notation)
    assert not re.search(r'="[^"]*E[+-]?\d', svg)


def test_dashboard_page_renders_charts_with_constant_queries(admin_client: Client) -> None:
    account = _funded("acme", "100")
    account_charge(account_id=account.pk, amount=Decimal("30"), idempotency_key="c1")
    admin_client.get("/admin/dashboard/")
    with CaptureQueriesContext(connection) as few:
        response = admin_client.get("/admin/dashboard/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="chart-revenue"' in html and 'id="chart-consumption"' in html
    today = clock_now().astimezone(local_tz()).date()
    assert html.count('class="tally-bar') >= today.day  # a bar per day of the month so far
    assert "Revenue (CNY)" in html and 'class="tally-grid"' in html
    assert "CNY 30.00" in html
    last = admin_client.get("/admin/dashboard/?period=last_month").content.decode()
    assert 'id="period-last-month" class="current"' in last
    bad = admin_client.get("/admin/dashboard/?period=custom&from=2026-02-10&to=2026-01-01").content.decode()
    assert "must not be before" in bad
    for i in range(10):
        account_charge(account_id=account.pk, amount=Decimal("1"), idempotency_key=f"more{i}")
    with CaptureQueriesContext(connection) as many:
        admin_client.get("/admin/dashboard/")
    assert len(many) == len(few)


def test_dashboard_linked_from_the_index(admin_client: Client) -> None:
    response = admin_client.get("/admin/")
    assert b'href="/admin/dashboard/"' in response.content


def test_dashboard_needs_the_ledger_view_permission(make_user: Any, finance_client: Client) -> None:
    staff = make_user("plainstaff", staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/dashboard/").status_code == 403
    assert finance_client.get("/admin/dashboard/").status_code == 200


def test_renewals_failed_today_counts_orders_moved_today() -> None:
    from orders.dashboard.selectors import renewals_failed_today
    from orders.models import PurchaseOrder, PurchaseOrderEvent, PurchaseOrderStatus

    account = account_get_or_create(namespace="rf")
    plan = Plan.objects.create(plan_id="vol", name="Vol", plan_type="volume")
    now = clock_now()

    def order(n: int) -> PurchaseOrder:
        return PurchaseOrder.objects.create(
            order_id=f"PO{n}",
            account=account,
            region="r1",
            plan=plan,
            start_time=now,
            status=PurchaseOrderStatus.RENEWALFAILED,
        )

    today_start = now.astimezone(local_tz()).replace(hour=0, minute=0, second=0, microsecond=0)
    first, second, old = order(1), order(2), order(3)
    for o, at in (
        (first, now),
        (first, now),
        (second, today_start),
        (old, today_start - timedelta(seconds=1)),
    ):
        PurchaseOrderEvent.objects.create(
            order=o,
            time=at,
            from_status=PurchaseOrderStatus.CONSUMING,
            to_status=PurchaseOrderStatus.RENEWALFAILED,
            reason="insufficient_balance",
        )
    PurchaseOrderEvent.objects.create(
        order=second,
        time=now,
        from_status=PurchaseOrderStatus.RENEWALFAILED,
        to_status=PurchaseOrderStatus.CONSUMING,
        reason="renewed",
    )
    result = renewals_failed_today()
    assert result["count"] == 2
    assert {e.order.order_id for e in result["events"]} == {"PO1", "PO2"}
