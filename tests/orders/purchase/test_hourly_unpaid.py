"""An hourly order whose next hour cannot be paid follows the renewal rules of docs/purchase-orders.md:
``renewalfailed`` (notified at most once a day), tried again every run, ``consuming`` again with the
missed hours charged after a recharge, ``ended`` (renewal_failed) once the grace period has passed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from orders.jobs import billing_jobs_run
from orders.models import PurchaseOrder, PurchaseOrderEndReason, PurchaseOrderStatus, SubscriptionLine
from orders.purchase.services import purchase_order_create
from plans.models import BillingMode, Cycle
from tests.orders.purchase.helpers import T0, account_of, assert_ledger, balance, fund, make_plan
from usage.models import UsageKind, UsageRecord

pytestmark = pytest.mark.django_db


def hourly_order(user: Any, funds: str) -> PurchaseOrder:
    make_plan("cpu-hour", "1", mode=BillingMode.HOURLY, cycle=Cycle.HOUR, plan_type="cpu")
    account = account_of(user, funds)
    order = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="cpu-hour", at=T0
    )
    assert order.order is not None
    return order.order


def run(at: Any, capture: Any) -> dict[str, int]:
    with capture(execute=True):
        return billing_jobs_run(at=at)


def test_unpaid_hour_is_renewalfailed_then_recovers_with_the_missed_hours(
    user, sent, django_capture_on_commit_callbacks
):
    order = hourly_order(user, "2")  # first hour at creation, one more hour, then nothing
    run(T0 + timedelta(hours=1, minutes=1), django_capture_on_commit_callbacks)
    assert balance(order.account) == Decimal("0")
    summary = run(T0 + timedelta(hours=2, minutes=1), django_capture_on_commit_callbacks)
    assert summary["hourly_unpaid_failed"] == 1 and "suspended" not in summary
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RENEWALFAILED
    line = SubscriptionLine.objects.get(subscription=order.subscription)
    assert line.status == "running" and line.next_run_at == T0 + timedelta(hours=2)  # still due
    run(T0 + timedelta(hours=3, minutes=1), django_capture_on_commit_callbacks)  # again: no 2nd notice
    assert [p["event"] for p in sent] == ["order_renew_failed"]

    fund(order.account, "10")
    summary = run(T0 + timedelta(hours=4, minutes=1), django_capture_on_commit_callbacks)
    assert summary["hourly_charged"] == 3  # the hours from 2:00, 3:00 and 4:00
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.CONSUMING and order.last_renew_fail_notified_at is None
    starts = sorted(
        UsageRecord.objects.filter(order_ref=order.order_id, kind=UsageKind.HOURLY).values_list(
            "period_start", flat=True
        )
    )
    assert starts == [T0 + timedelta(hours=h) for h in range(5)]  # no hour skipped, none twice
    assert balance(order.account) == Decimal("7")
    assert order.events.filter(reason="hourly_paid").count() == 1
    assert_ledger(order.account)


def test_unpaid_past_the_grace_period_ends_the_order(
    user, sent, django_capture_on_commit_callbacks, settings
):
    order = hourly_order(user, "1")  # only the first hour, paid until T0 + 1 h
    run(T0 + timedelta(hours=1, minutes=1), django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RENEWALFAILED
    summary = run(T0 + timedelta(hours=1) + settings.RENEWAL_GRACE, django_capture_on_commit_callbacks)
    assert summary["hourly_unpaid_ended"] == 1
    order.refresh_from_db()
    assert (
        order.status == PurchaseOrderStatus.ENDED
        and order.end_reason == PurchaseOrderEndReason.RENEWAL_FAILED
    )
    assert SubscriptionLine.objects.get(subscription=order.subscription).status == "stopped"
    assert [p["event"] for p in sent][-1] == "order_closed"
    assert balance(order.account) == Decimal("0")
    assert_ledger(order.account)
