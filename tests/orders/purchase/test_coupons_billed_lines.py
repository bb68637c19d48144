"""A ``coupon`` on a postpaid or hourly purchase order (issue 20.1; docs/purchase-orders.md
"Coupons"): redeemed by the create, applied by the jobs runner to each billed period while the
promotion's duration covers it (period 1 = the first billed period: a postpaid order's first cycle,
an hourly order's first hour, charged by the create), the discount its own amount on the records,
``run_billing --dry-run`` the same numbers with nothing written."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from billing.models import LedgerEntry, Redemption
from config.clock import add_cycles
from orders.models import PurchaseOrder, PurchaseOrderEvent, SubscriptionLine
from orders.purchase.models import PurchaseOrderStatus
from orders.purchase.services import purchase_order_create
from plans.models import BillingMode, Cycle
from tests.orders.purchase.helpers import assert_ledger, balance, local, make_plan
from tests.orders.purchase.test_coupons import account_of
from tests.plans.factories import PromotionFactory
from usage.audit import ledger_audit
from usage.models import MeterEvent, UsageKind, UsageRecord

pytestmark = pytest.mark.django_db
START = local(2026, 3, 10, 12)
DURATIONS = [
    ("once", None, ["3", "0", "0", "0", "0"]),
    ("periods", 3, ["3", "3", "3", "0", "0"]),
    ("forever", None, ["3", "3", "3", "3", "3"]),
]


def counts() -> tuple[int, ...]:
    return (
        PurchaseOrder.objects.count(),
        UsageRecord.objects.count(),
        LedgerEntry.objects.count(),
        Redemption.objects.count(),
        PurchaseOrderEvent.objects.count(),
        MeterEvent.objects.filter(billed_record_id__isnull=False).count(),
    )


def run_billing(at: datetime, *extra: str) -> str:
    out = StringIO()
    call_command("run_billing", "--at", at.isoformat(), *extra, stdout=out)
    return out.getvalue()


def postpaid_order(user: Any, *, coupon: str | None, funds: str = "1000") -> PurchaseOrder:
    """A postpaid order at 0.5 a unit, monthly cycles anchored at ``START``."""
    make_plan("bw-post", "0.5", plan_type="bandwidth", mode=BillingMode.POSTPAID, cycle=Cycle.MONTH)
    result = purchase_order_create(
        account=account_of(user, funds), creator=user, region="cn-north-1", plan_id="bw-post",
        coupon=coupon, at=START,
    )  # fmt: skip
    assert result.money == 0 and result.order is not None
    return result.order


def meter(order: PurchaseOrder, eid: str, qty: str, at: datetime) -> None:
    line = SubscriptionLine.objects.get(subscription=order.subscription)
    MeterEvent.objects.create(
        account=order.account, event_id=eid, line_id=line.pk, instance_ref=order.order_id,
        quantity=Decimal(qty), timestamp=at,
    )  # fmt: skip


def period_end(index: int) -> datetime:
    return add_cycles(START, Cycle.MONTH, index)


@pytest.mark.parametrize(("duration", "n", "discounts"), DURATIONS)
def test_postpaid_periods_are_discounted_for_the_promotions_duration(user, duration, n, discounts):
    PromotionFactory(code="TEN", value=Decimal("10"), duration=duration, duration_periods=n)
    order = postpaid_order(user, coupon="TEN")
    assert Redemption.objects.get().subject_id == order.order_id  # redeemed by the create
    assert LedgerEntry.objects.filter(kind="charge").count() == 0  # and nothing charged then
    for index in range(1, 6):
        meter(order, f"e{index}", "60", period_end(index) - timedelta(days=2))  # 60 x 0.5 = 30
        out = run_billing(period_end(index) + timedelta(minutes=1))
        assert "postpaid billed 1" in out, out
        shown = f"postpaid billed 1, discount {Decimal(discounts[index - 1]):.4f}"
        assert (shown in out) == (discounts[index - 1] != "0"), out  # the job's result names it
        assert ledger_audit() == []
    records = UsageRecord.objects.filter(order_ref=order.order_id).order_by("period_start")
    assert [r.kind for r in records] == [UsageKind.USAGE] * 5
    assert [r.discount for r in records] == [Decimal(d) for d in discounts]
    assert [r.amount for r in records] == [Decimal("30") - Decimal(d) for d in discounts]
    assert all(r.status == "paid" and r.ledger_entry.amount == -r.amount for r in records)
    paid = sum((r.amount for r in records), Decimal(0))
    assert balance(order.account) == Decimal("1000") - paid
    assert_ledger(order.account)
    assert Redemption.objects.count() == 1


@pytest.mark.parametrize(("duration", "n", "discounts"), DURATIONS)
def test_hourly_hours_are_discounted_for_the_promotions_duration(user, duration, n, discounts):
    # an hourly order's period is its hour: the create charges hour 1, each run the next one
    PromotionFactory(code="TEN", value=Decimal("10"), duration=duration, duration_periods=n)
    make_plan("cpu-hour", "10", plan_type="cpu", mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
    result = purchase_order_create(
        account=account_of(user, "1000"), creator=user, region="cn-north-1", plan_id="cpu-hour",
        quantities=3, coupon="TEN", at=START,
    )  # fmt: skip
    order = result.order
    assert (result.money, result.discount) == (Decimal("27"), Decimal("3"))
    assert ledger_audit() == []
    for hour in range(1, 5):
        out = run_billing(START + timedelta(hours=hour))
        assert "hourly charged 1" in out, out
        assert ledger_audit() == []
    records = UsageRecord.objects.filter(order_ref=order.order_id).order_by("period_start")
    assert [r.kind for r in records] == [UsageKind.HOURLY] * 5
    assert [r.discount for r in records] == [Decimal(d) for d in discounts]
    assert [r.amount for r in records] == [Decimal("30") - Decimal(d) for d in discounts]
    paid = sum((r.amount for r in records), Decimal(0))
    assert balance(order.account) == Decimal("1000") - paid
    assert_ledger(order.account)


def test_a_fixed_amount_never_goes_below_the_periods_gross(user):
    PromotionFactory(code="BIG", kind="amount", value=Decimal("20"), duration="forever")
    order = postpaid_order(user, coupon="BIG")
    meter(order, "small", "10", START + timedelta(days=1))  # gross 5
    run_billing(period_end(1) + timedelta(minutes=1))
    run_billing(period_end(2) + timedelta(minutes=1))  # no usage: gross 0, nothing to discount
    records = UsageRecord.objects.filter(order_ref=order.order_id).order_by("period_start")
    assert [(r.amount, r.discount) for r in records] == [
        (Decimal("0"), Decimal("5")),
        (Decimal("0"), Decimal("0")),
    ]
    assert LedgerEntry.objects.filter(kind="charge").count() == 0 and ledger_audit() == []


def test_the_dry_run_prices_the_same_and_writes_nothing(user):
    PromotionFactory(code="TEN", value=Decimal("10"), duration="forever")
    order = postpaid_order(user, coupon="TEN")
    meter(order, "a", "60", START + timedelta(days=3))
    at = period_end(1) + timedelta(minutes=1)
    before = counts()
    dry = json.loads(run_billing(at, "--dry-run", "--format", "json"))
    assert counts() == before  # nothing written, the events not marked billed
    real = json.loads(run_billing(at, "--format", "json"))
    assert counts() != before

    def job(out: dict[str, Any]) -> dict[str, Any]:
        found = next(j for j in out["jobs"] if j["kind"] == "billing_jobs")
        return {k: found[k] for k in ("result", "charged", "credited", "discount", "usage_records")}

    assert job(dry) == job(real)
    assert (job(real)["charged"], job(real)["discount"]) == ("27.0000", "3.0000")
    text = run_billing(period_end(2) + timedelta(minutes=1), "--dry-run")
    assert "dry run: nothing written" in text and "discount" not in text.split("total:")[1]
    record = UsageRecord.objects.get(order_ref=order.order_id)
    assert (record.amount, record.discount) == (Decimal("27"), Decimal("3"))


def test_the_dry_run_text_shows_the_discount(user):
    PromotionFactory(code="TEN", value=Decimal("10"), duration="forever")
    order = postpaid_order(user, coupon="TEN")
    meter(order, "a", "60", START + timedelta(days=3))
    text = run_billing(period_end(1) + timedelta(minutes=1), "--dry-run")
    assert "discount 3.0000" in text, text
    assert f"discount 3.0000 on usage record(s) of {order.order_id}" in text
    assert "charged 27.0000" in text
    assert not UsageRecord.objects.exists()


def test_a_coupon_limited_to_one_per_account_is_refused_on_a_second_postpaid_order(api, user):
    PromotionFactory(code="ONCE", max_per_account=1, duration="forever")
    make_plan("bw-post", "0.5", plan_type="bandwidth", mode=BillingMode.POSTPAID, cycle=Cycle.MONTH)
    account = account_of(user, "100")
    body = {"region": "cn-north-1", "plan_id": "bw-post", "coupon": "once"}
    first = api.post("/usageapi/v1/orders", body, format="json")
    assert first.status_code == 201, first.json()
    assert (first.json()["data"]["money"], first.json()["data"]["coupon"]) == ("0.00", "ONCE")
    before = counts()
    second = api.post("/usageapi/v1/orders", body, format="json")
    data = second.json()
    assert (second.status_code, data["code"]) == (400, 3307), data
    assert data["data"]["errors"]["coupon"] == ["this account has already redeemed 'ONCE'"]
    assert counts() == before and balance(account) == Decimal("100")
    assert Redemption.objects.get().subject_id == first.json()["data"]["order"]["order_id"]


def test_canceling_a_discounted_postpaid_order_bills_its_last_periods_net(user):
    from orders.purchase.services import purchase_order_cancel

    PromotionFactory(code="HALF", value=Decimal("50"), duration="periods", duration_periods=2)
    order = postpaid_order(user, coupon="HALF")
    meter(order, "a", "20", START + timedelta(days=1))
    meter(order, "b", "40", period_end(1) + timedelta(days=1))
    meter(order, "c", "80", period_end(2) + timedelta(days=1))
    purchase_order_cancel(order_pk=order.pk, actor=user, at=period_end(2) + timedelta(days=2))
    records = UsageRecord.objects.filter(order_ref=order.order_id).order_by("period_start")
    assert [(r.amount, r.discount) for r in records] == [
        (Decimal("5"), Decimal("5")),
        (Decimal("10"), Decimal("10")),
        (Decimal("40"), Decimal("0")),  # the partial third period is not covered
    ]
    assert balance(order.account) == Decimal("945") and ledger_audit() == []


def test_the_runner_reads_a_chunks_redemptions_in_one_query(user, make_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from orders.jobs import billing_jobs_run

    PromotionFactory(code="TEN", value=Decimal("10"), duration="forever")
    make_plan("cpu-hour", "10", plan_type="cpu", mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
    orders = [postpaid_order(user, coupon="TEN"), postpaid_order(make_user("bob"), coupon="TEN")]
    hourly = purchase_order_create(
        account=account_of(make_user("carol"), "1000"), creator=None, region="cn-north-1",
        plan_id="cpu-hour", coupon="TEN", at=START,
    ).order  # fmt: skip
    for order in orders:
        meter(order, f"u-{order.pk}", "60", START + timedelta(days=1))
    with CaptureQueriesContext(connection) as queries:
        summary = billing_jobs_run(at=START + timedelta(hours=3), chunk_size=50)
        summary2 = billing_jobs_run(at=period_end(1) + timedelta(minutes=1), chunk_size=50)
    assert summary["hourly_charged"] == 3 and summary2["postpaid_billed"] == 2
    reads = [q["sql"] for q in queries.captured_queries if "billing_redemption" in q["sql"]]
    assert len(reads) == 2, reads  # one per chunk (each run here is one chunk), whatever its lines
    hours = UsageRecord.objects.filter(order_ref=hourly.order_id)
    assert hours.count() == 52  # the create's hour, 3, then 48 caught up (MAX_CATCH_UP) by one chunk
    assert set(hours.values_list("discount", flat=True)) == {Decimal("1")}
    assert set(UsageRecord.objects.filter(kind=UsageKind.USAGE).values_list("discount", flat=True)) == {
        Decimal("3")
    }


def test_the_hourly_paid_event_names_the_hours_discount(user):
    PromotionFactory(code="TEN", value=Decimal("10"), duration="forever")
    make_plan("cpu-hour", "10", plan_type="cpu", mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
    order = purchase_order_create(
        account=account_of(user, "18"), creator=user, region="cn-north-1", plan_id="cpu-hour",
        coupon="TEN", at=START,
    ).order  # fmt: skip
    run_billing(START + timedelta(hours=1))  # the second hour, 9: the wallet is empty
    run_billing(START + timedelta(hours=2, minutes=1))
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RENEWALFAILED
    account_of(user, "100")  # a credit naming its subject
    run_billing(START + timedelta(hours=3, minutes=1))  # the hours from 2:00 and 3:00
    event = PurchaseOrderEvent.objects.get(order=order, reason="hourly_paid")
    assert event.data["discount"] == "1.0000"
    assert balance(order.account) == Decimal("82") and ledger_audit() == []
