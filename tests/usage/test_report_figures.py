"""Gross, discount, net and corrections in the reports (issue 20: "usage records show the discount
as its own amount", "reports and usages show corrections as such"; usage/figures.py).

One March: a purchase order and a package order, each with a coupon; the package order's metered
component bills an hour, then a late event (a positive correction) and a void of a billed event
(a negative correction, a refund). Every figure of every row, and the totals, equal the records'
own sums, whichever way the range is cut (month rollups, day rollups, raw pieces of a day); a
wrong ``discount_units`` is found by the audit and repaired by ``rebuild_rollups``."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command

from billing.models import Account
from billing.services import account_credit, account_get_or_create
from config.clock import simulated_now
from config.money import ZERO
from orders.billing_jobs import billing_jobs_run
from orders.package.metering import meter_events_ingest
from orders.package.metering_void import meter_events_void
from orders.package.services import package_order_charge, package_order_create
from orders.package.specs import InstanceSpec, ProductSpec
from orders.purchase.services import purchase_order_create
from tests.orders.package.factories import T0, make_catalog
from tests.orders.purchase.helpers import local, make_plan
from tests.plans.factories import PromotionFactory
from usage import rollups
from usage.audit import ledger_audit
from usage.audit.rollups import rollups_vs_records
from usage.models import RollupGrain, UsageKind, UsageRecord, UsageRollup, UsageStatus
from usage.rollup_reads import midnight, split
from usage.selectors import month_range, usage_report

pytestmark = pytest.mark.django_db
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
MARCH = month_range(date(2026, 3, 1))
# the figures of a row, as ``usage_report`` names them
FIGURES = ("amount", "gross", "discount", "records", "corrections", "correction_records")


@contextmanager
def at(dt: datetime) -> Iterator[datetime]:
    with simulated_now(dt):
        yield dt


def event(eid: str, qty: str, ts: datetime) -> dict[str, Any]:
    return {
        "event_id": eid,
        "instance": "i-1",
        "component_id": "net",
        "quantity": qty,
        "timestamp": ts.isoformat(),
    }


def funded(account: Account, amount: str) -> Account:
    """A credit naming its subject (the audit wants one)."""
    key = f"fund:{account.namespace}"
    account_credit(account_id=account.pk, amount=Decimal(amount), idempotency_key=key, subject=("test", key))
    return account


@pytest.fixture
def month(user):
    """The March of the module docstring; T0 = 2026-03-10 16:00 local."""
    with at(local(2026, 3, 1)):
        make_catalog()  # vm: sys prepaid 30/month, cpu hourly 1.2/h, net postpaid 0.5
        make_plan("vol-50g", "30")
        PromotionFactory(code="SPRING", value=Decimal("10"), plan_ids=["vol-50g"])
        PromotionFactory(code="VM10", value=Decimal("10"), products=["vm"])
        buyer = funded(account_get_or_create(namespace=user.get_username(), member=user), "100")
        alice = funded(account_get_or_create(namespace="pkg"), "1000")
    with at(local(2026, 3, 10, 12)) as t:
        bought = purchase_order_create(
            account=buyer, creator=user, region="cn-north-1", plan_id="vol-50g", coupon="spring", at=t
        )
    with at(T0) as t:
        created = package_order_create(
            account_id=alice.pk,
            app_id="app",
            order_user_name="Alice",
            description="test",
            extra_info={},
            products=[
                ProductSpec(
                    prod_id="vm", plan_id="vm-std", attrs={"cpu": "2"}, instances=[InstanceSpec("i-1", False)]
                )
            ],
            coupon="VM10",
            at=t,
        )
        package_order_charge(order_pk=created.order.pk, at=t)
    with at(T0 + 30 * MIN) as t:
        meter_events_ingest(account_id=alice.pk, events=[event("a", "4", T0 + 10 * MIN)], at=t)
    with at(T0 + HOUR + MIN) as t:
        billing_jobs_run(at=t)  # the first hour's usage: 4 x 0.5
    with at(T0 + HOUR + 5 * MIN) as t:  # late: its hour is billed
        meter_events_ingest(account_id=alice.pk, events=[event("b", "6", T0 + 20 * MIN)], at=t)
    with at(T0 + HOUR + 6 * MIN) as t:
        billing_jobs_run(at=t)  # the correction: + 6 x 0.5
    with at(T0 + HOUR + 10 * MIN) as t:
        meter_events_void(account_id=alice.pk, event_ids=["a"], at=t)  # the refund: - 4 x 0.5
    return {"purchase": bought.order, "package": created.order}


def expected_rows(records: list[UsageRecord]) -> dict[tuple[str, ...], dict[str, Any]]:
    """What a per-order report must say of ``records`` (paid ones), summed here in Python."""
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in records:
        key = (r.account.namespace, r.order_ref, r.region, r.plan.plan_id if r.plan_id else "")
        row = out.setdefault(key, dict.fromkeys(FIGURES, ZERO) | {"records": 0, "correction_records": 0})
        row["amount"] += r.amount
        row["discount"] += r.discount
        row["gross"] += r.amount + r.discount
        row["records"] += 1
        if r.kind == UsageKind.CORRECTION:
            row["corrections"] += r.amount
            row["correction_records"] += 1
    return out


def figures_of(report: Any) -> dict[tuple[str, ...], dict[str, Any]]:
    return {
        (r["namespace"], r["order_id"], r["region"], r["plan_id"]): {f: r[f] for f in FIGURES}
        for r in report.rows
        if r["records"]
    }


def test_the_month_shows_gross_discount_net_and_corrections_as_the_records_say(month):
    paid = list(UsageRecord.objects.filter(status=UsageStatus.PAID).select_related("account", "plan"))
    corrections = [r for r in paid if r.kind == UsageKind.CORRECTION]
    # the metered hour is in VM10's "once" period: its corrections are priced net (10 % off)
    assert sorted(r.amount for r in corrections) == [Decimal("-1.8"), Decimal("2.7")]  # the refund negative
    assert {r.order_ref for r in paid if r.discount > 0} == {
        month["purchase"].order_id,
        month["package"].order_id,
    }
    report = usage_report(start=MARCH[0], end=MARCH[1])
    assert figures_of(report) == expected_rows(paid)
    rows = report.rows
    for total, figure in (
        (report.total, "amount"),
        (report.gross, "gross"),
        (report.discount, "discount"),
        (report.records, "records"),
        (report.corrections, "corrections"),
        (report.correction_records, "correction_records"),
    ):
        assert total == sum((r[figure] for r in rows), ZERO)  # totals: exact sums of the rows
    assert report.gross == report.total + report.discount
    assert (report.corrections, report.correction_records) == (Decimal("0.9"), 2)
    assert report.discount == sum((r.discount for r in paid), ZERO) > 0
    per_account = usage_report(start=MARCH[0], end=MARCH[1], group_by="account")
    assert (per_account.total, per_account.gross, per_account.discount, per_account.corrections) == (
        report.total,
        report.gross,
        report.discount,
        report.corrections,
    )
    assert per_account.correction_records == 2
    assert ledger_audit() == []


def test_raw_pieces_of_a_day_give_the_figures_of_the_rollups(month):
    """The records lie on Mar 10 (local 12:00 to 17:10). Cut anywhere, the pieces add up to the
    month (read from the month rollups): the raw pieces at the ends of a range give the same
    figures as whole days do."""
    whole = figures_of(usage_report(start=MARCH[0], end=MARCH[1]))
    day = date(2026, 3, 10)
    ranges = [
        (midnight(day), midnight(day + timedelta(days=1))),  # one whole day: the day rollups
        (midnight(day) + 6 * HOUR, midnight(day) + 20 * HOUR),  # inside one day: the records
        (midnight(day) - 6 * HOUR, midnight(day + timedelta(days=2)) + 6 * HOUR),  # pieces and days
    ]
    assert split(*ranges[1]).rolled is False and split(*ranges[2]).raw and split(*ranges[2]).days
    for start, end in ranges:
        assert figures_of(usage_report(start=start, end=end)) == whole, (start, end)
    # cut between the correction and the void's refund: the two pieces add up to the month
    cut = T0 + HOUR + 8 * MIN
    before = figures_of(usage_report(start=MARCH[0], end=cut))
    after = figures_of(usage_report(start=cut, end=MARCH[1]))
    summed: dict[tuple[str, ...], dict[str, Any]] = {}
    for part in (before, after):
        for key, row in part.items():
            into = summed.setdefault(key, {f: 0 for f in FIGURES})
            for f in FIGURES:
                into[f] += row[f]
    assert summed == whole
    package = month["package"].order_id
    assert [v["corrections"] for k, v in after.items() if k[1] == package] == [Decimal("-1.8")]


def test_the_api_and_the_csv_show_the_new_figures(staff_api, month):
    data = staff_api.get("/usageapi/v1/reports?period=2026-03").json()["data"]
    report = usage_report(start=MARCH[0], end=MARCH[1])
    assert (data["total"], data["gross"], data["discount"], data["corrections"]) == (
        f"{report.total:.2f}",
        f"{report.gross:.2f}",
        f"{report.discount:.2f}",
        "0.90",
    )
    assert data["correction_records"] == 2
    package = next(r for r in data["rows"] if r["order_id"] == month["package"].order_id)
    assert Decimal(package["gross"]) == Decimal(package["money"]) + Decimal(package["discount"])
    assert (package["corrections"], package["correction_records"]) == ("0.90", 2)
    r = staff_api.get("/usageapi/v1/reports?period=2026-03&format=csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert sum(Decimal(row["discount"]) for row in rows) == Decimal(data["discount"])
    assert (r["X-Report-Gross"], r["X-Report-Corrections"], r["X-Report-Correction-Records"]) == (
        data["gross"],
        "0.90",
        "2",
    )
    usages = staff_api.get("/usageapi/v1/usages?namespace=pkg").json()["data"]["results"]
    fixes = [u for u in usages if u["kind"] == "correction"]
    assert len(fixes) == 2 and all(u["corrects"] for u in fixes)
    assert {u["money"] for u in fixes} == {"2.70", "-1.80"}


def test_a_wrong_discount_is_found_by_the_audit_and_rebuilt(month):
    assert rollups.drift() == {} and rollups_vs_records(account_id=None) == []
    discounted = UsageRollup.objects.filter(grain=RollupGrain.MONTH, discount_units__gt=0).order_by("pk")
    wrong = discounted.first()
    assert wrong is not None
    UsageRollup.objects.filter(pk=wrong.pk).update(discount_units=wrong.discount_units + 1)
    findings = rollups_vs_records(account_id=None)
    assert [(f.account_id, f.check) for f in findings] == [(wrong.account_id, "rollup_mismatch")]
    assert "discount" in findings[0].expected and findings[0].expected != findings[0].actual
    # every discount lost (a restore of a table from before the column, say): the reports are wrong
    UsageRollup.objects.update(discount_units=0)
    assert usage_report(start=MARCH[0], end=MARCH[1]).discount == 0
    assert rollups.drift() and rollups_vs_records(account_id=None)
    call_command("rebuild_rollups", stdout=io.StringIO())
    assert rollups.drift() == {} and rollups_vs_records(account_id=None) == []
    paid = UsageRecord.objects.filter(status=UsageStatus.PAID)
    assert usage_report(start=MARCH[0], end=MARCH[1]).discount == sum((r.discount for r in paid), ZERO) > 0


def test_the_admin_report_shows_the_figures(month, make_user):
    from django.test import Client

    from config.display import money_html

    c = Client()
    c.force_login(make_user("boss", superuser=True))
    body = c.get("/admin/usage/usagerecord/report/?period=2026-03").content.decode()
    report = usage_report(start=MARCH[0], end=MARCH[1])
    for figure in (report.gross, report.discount, report.total):
        assert str(money_html(figure)) in body
    assert f"{money_html(report.corrections)} (2)" in body
