"""The renewal engine: success, renewalfailed, recovery, grace, price versions, replays, month ends."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from orders.models import PurchaseOrder, PurchaseOrderEndReason, PurchaseOrderStatus, SubscriptionLine
from orders.purchase.renewal import renewal_run
from orders.purchase.services import purchase_order_create
from tests.orders.purchase.helpers import (
    account_of,
    add_price,
    assert_ledger,
    balance,
    fund,
    local,
    make_plan,
)
from usage.models import UsageKind, UsageRecord

pytestmark = pytest.mark.django_db
START = local(2026, 3, 10, 12)


def make_order(user: Any, funds: str, plan_id: str = "vol-50g", price: str = "30", at=START) -> PurchaseOrder:
    account = account_of(user, funds)
    make_plan(plan_id, price)
    result = purchase_order_create(account=account, creator=user, region="cn-north-1", plan_id=plan_id, at=at)
    assert result.order is not None
    return result.order


def run(at, capture) -> Any:
    with capture(execute=True):
        return renewal_run(at=at, chunk_size=2)


def test_renewal_success_and_second_run_for_same_moment_charges_nothing(
    user, sent, django_capture_on_commit_callbacks
):
    order = make_order(user, "100")
    account = order.account
    assert balance(account) == Decimal("70")
    # not due yet: more than RENEWAL_LEAD (7 days) before the deadline Apr 10
    assert run(local(2026, 4, 2, 12), django_capture_on_commit_callbacks).renewed == 0
    summary = run(local(2026, 4, 4), django_capture_on_commit_callbacks)
    assert (summary.renewed, summary.failed, summary.money) == (1, 0, Decimal("30"))
    order.refresh_from_db()
    assert order.deadline == local(2026, 5, 10, 12) and order.status == PurchaseOrderStatus.CONSUMING
    assert balance(account) == Decimal("40")
    again = run(local(2026, 4, 4), django_capture_on_commit_callbacks)
    assert (again.renewed, again.money) == (0, Decimal("0"))
    assert balance(account) == Decimal("40")
    assert UsageRecord.objects.filter(order_ref=order.order_id, kind=UsageKind.RENEW).count() == 1
    assert [p["event"] for p in sent] == ["order_renewed"]
    assert_ledger(account)


def test_price_versions_change_between_periods(user, django_capture_on_commit_callbacks):
    order = make_order(user, "500")
    plan = order.plan
    add_price(plan, "45", local(2026, 4, 10, 12))  # in force from the 2nd period's start
    add_price(plan, "20", local(2026, 5, 1))  # in force before the 3rd period's start
    run(local(2026, 4, 5), django_capture_on_commit_callbacks)  # published before; still new price applies
    run(local(2026, 5, 5), django_capture_on_commit_callbacks)
    amounts = list(
        UsageRecord.objects.filter(order_ref=order.order_id)
        .order_by("period_start")
        .values_list("amount", flat=True)
    )
    assert amounts == [Decimal("30"), Decimal("45"), Decimal("20")]
    assert balance(order.account) == Decimal("405")
    assert_ledger(order.account)


def test_renewalfailed_notifies_once_a_day_recovers_after_recharge(
    user, sent, django_capture_on_commit_callbacks
):
    order = make_order(user, "30")
    account = order.account
    sent.clear()
    s1 = run(local(2026, 4, 4), django_capture_on_commit_callbacks)
    assert s1.failed == 1
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RENEWALFAILED
    assert order.last_renew_fail_notified_at == local(2026, 4, 4)
    run(local(2026, 4, 4, 5), django_capture_on_commit_callbacks)  # retried, no second notification
    run(local(2026, 4, 4, 23), django_capture_on_commit_callbacks)
    assert [p["event"] for p in sent] == ["order_renew_failed"]
    run(local(2026, 4, 5, 1), django_capture_on_commit_callbacks)  # 25 h later: again
    assert [p["event"] for p in sent] == ["order_renew_failed", "order_renew_failed"]
    assert balance(account) == Decimal("0")
    fund(account, "50")
    s2 = run(local(2026, 4, 6), django_capture_on_commit_callbacks)
    assert s2.renewed == 1
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.CONSUMING and order.deadline == local(2026, 5, 10, 12)
    assert order.last_renew_fail_notified_at is None
    assert balance(account) == Decimal("20")
    statuses = list(order.events.values_list("to_status", flat=True))
    assert PurchaseOrderStatus.RENEWALFAILED in statuses and statuses[-1] == PurchaseOrderStatus.CONSUMING
    assert sent[-1]["event"] == "order_renewed"
    assert_ledger(account)


def test_unpaid_after_grace_ends_the_order(user, sent, django_capture_on_commit_callbacks):
    order = make_order(user, "30")
    run(local(2026, 4, 4), django_capture_on_commit_callbacks)
    run(local(2026, 4, 17, 11), django_capture_on_commit_callbacks)  # one hour before deadline + 7 days
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RENEWALFAILED
    s = run(local(2026, 4, 17, 12), django_capture_on_commit_callbacks)
    assert s.ended == 1
    order.refresh_from_db()
    assert (
        order.status == PurchaseOrderStatus.ENDED
        and order.end_reason == PurchaseOrderEndReason.RENEWAL_FAILED
    )
    assert order.end_time == local(2026, 4, 17, 12)
    assert sent[-1]["event"] == "order_closed"
    line = SubscriptionLine.objects.get(subscription=order.subscription)
    assert line.status == "stopped"
    # nothing more happens to an ended order
    fund(order.account, "100")
    assert run(local(2026, 5, 1), django_capture_on_commit_callbacks).renewed == 0
    assert balance(order.account) == Decimal("100")
    assert_ledger(order.account)


@pytest.mark.parametrize(
    ("start", "deadlines"),
    [
        (local(2028, 1, 31, 10), [local(2028, 2, 29, 10), local(2028, 3, 31, 10), local(2028, 4, 30, 10)]),
        (local(2027, 1, 31, 10), [local(2027, 2, 28, 10), local(2027, 3, 31, 10), local(2027, 4, 30, 10)]),
    ],
)
def test_anchored_month_ends(user, start, deadlines, django_capture_on_commit_callbacks):
    order = make_order(user, "1000", at=start)
    order.refresh_from_db()
    assert order.deadline == deadlines[0]
    for before, after in zip(deadlines, deadlines[1:], strict=False):
        run(before - timedelta(days=3), django_capture_on_commit_callbacks)
        order.refresh_from_db()
        assert order.deadline == after
    lengths = {
        round((r.period_end - r.period_start).total_seconds() / 86400)
        for r in UsageRecord.objects.filter(order_ref=order.order_id)
    }
    assert lengths == {29 if start.year == 2028 else 28, 31, 30}
    assert_ledger(order.account)


def test_catch_up_after_a_long_pause_is_bounded_and_consistent(user, django_capture_on_commit_callbacks):
    order = make_order(user, "1000")
    s = run(local(2026, 7, 1), django_capture_on_commit_callbacks)
    assert s.renewed == 3  # periods from Apr 10, May 10, Jun 10 (Jul 10 is 9 days away: not yet)
    order.refresh_from_db()
    assert order.deadline == local(2026, 7, 10, 12)
    assert balance(order.account) == Decimal("880")
    assert_ledger(order.account)


def test_dry_run_writes_nothing(user):
    order = make_order(user, "100")
    s = renewal_run(at=local(2026, 4, 4), chunk_size=10, dry_run=True)
    assert s.renewed == 1 and s.money == Decimal("30")
    order.refresh_from_db()
    assert order.deadline == local(2026, 4, 10, 12)
    assert balance(order.account) == Decimal("70")


def test_run_billing_command(user, django_capture_on_commit_callbacks):
    order = make_order(user, "100")
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_billing", "--at", local(2026, 4, 4).isoformat(), "--dry-run", stdout=out)
    assert "dry run" in out.getvalue()
    assert balance(order.account) == Decimal("70")
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_billing", "--at", local(2026, 4, 4).isoformat(), stdout=out)
    assert "renewed 1" in out.getvalue()
    assert balance(order.account) == Decimal("40")
    with pytest.raises(Exception, match="ISO"):
        call_command("run_billing", "--at", "yesterday")
    assert_ledger(order.account)


def test_beat_entry_and_task(user, django_capture_on_commit_callbacks):
    from config.schedule import beat_schedule
    from orders.purchase.tasks import run_renewals

    entry = beat_schedule()["orders.run_renewals"]
    assert entry["task"] == "orders.run_renewals" and entry["schedule"] == 300.0
    order = make_order(user, "100")
    with django_capture_on_commit_callbacks(execute=True):
        first = run_renewals.delay(at=local(2026, 4, 4).isoformat()).get()
        second = run_renewals.delay(at=local(2026, 4, 4).isoformat()).get()
    assert (first["renewed"], second["renewed"]) == (1, 0)
    assert balance(order.account) == Decimal("40")
