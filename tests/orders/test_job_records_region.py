"""Usage records written by the billing jobs (hourly hours, postpaid periods, the bill of a stop)
keep the order's region, like the records written at create and renewal (issue 15, item 3)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from orders.jobs import billing_jobs_run
from orders.models import SubscriptionLine
from orders.purchase.services import purchase_order_cancel, purchase_order_create
from plans.models import BillingMode, Cycle
from tests.orders.purchase.helpers import T0, account_of, assert_ledger, make_plan
from usage.models import MeterEvent, UsageRecord

pytestmark = pytest.mark.django_db


def test_hourly_and_postpaid_records_keep_the_region(user, api):
    account = account_of(user, "100")
    make_plan("cpu-hour", "0.25", mode=BillingMode.HOURLY, cycle=Cycle.HOUR, plan_type="cpu")
    make_plan("bw-post", "0.5", mode=BillingMode.POSTPAID, cycle=Cycle.DAY, region="cn-east-1")
    hourly = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="cpu-hour", at=T0
    ).order
    post = purchase_order_create(
        account=account, creator=user, region="cn-east-1", plan_id="bw-post", at=T0
    ).order
    line = SubscriptionLine.objects.get(subscription=post.subscription)
    MeterEvent.objects.create(
        account=account,
        event_id="e1",
        line_id=line.pk,
        instance_ref=post.order_id,
        quantity=Decimal("3"),
        timestamp=T0 + timedelta(hours=2),
    )
    summary = billing_jobs_run(at=T0 + timedelta(days=2, minutes=1))
    assert summary["hourly_charged"] >= 40 and summary["postpaid_billed"] == 2
    purchase_order_cancel(order_pk=post.pk, actor=user, at=T0 + timedelta(days=2, hours=3))  # bills the rest
    pairs = set(UsageRecord.objects.values_list("order_ref", "region"))
    assert pairs == {(hourly.order_id, "cn-north-1"), (post.order_id, "cn-east-1")}
    assert UsageRecord.objects.filter(order_ref=post.order_id, kind="usage").count() == 3
    total = UsageRecord.objects.filter(order_ref=hourly.order_id).count()
    listed = api.get("/usageapi/v1/usages", {"region": "cn-north-1", "size": 100}).json()["data"]
    assert listed["total"] == total > 40
    assert_ledger(account)
