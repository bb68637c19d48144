"""The renewal engine's set-based chunk (B1): a fixed number of statements per chunk, the same
rows as the per-order path, accounts that can pay for only some orders, one notification task per
chunk, and the per-order fallback when a period turns out to be recorded already."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry
from config import enqueue
from orders.engine.billing import ledger_key_for, next_period
from orders.models import PurchaseOrder, PurchaseOrderStatus, SubscriptionLine
from orders.purchase.renewal import renewal_run
from orders.purchase.services import purchase_order_create
from tests.orders.purchase.helpers import account_of, assert_ledger, balance, local, make_plan
from usage import rollups
from usage.audit.rollups import rollups_vs_records
from usage.models import UsageKind, UsageRecord, UsageStatus

pytestmark = pytest.mark.django_db
START = local(2026, 3, 10, 12)
DUE = local(2026, 4, 4)  # the Apr 10 deadlines are within the 7-day lead


def orders_for(
    make_user: Any, *, accounts: int, per_account: int, funds: str, prefix: str = "a", at: Any = START
) -> list[PurchaseOrder]:
    make_plan("vol-50g", "30")
    out = []
    for i in range(accounts):
        user = make_user(username=f"{prefix}{i}")
        account = account_of(user, funds)
        for j in range(per_account):
            result = purchase_order_create(
                account=account,
                creator=user,
                region="cn-north-1",
                plan_id="vol-50g",
                parameters={"resource_name": f"vol-{prefix}{i}-{j}"},
                at=at,
            )
            assert result.order is not None
            out.append(result.order)
    return out


def queries_of_one_chunk(at: Any, capture: Any) -> int:
    with CaptureQueriesContext(connection) as ctx, capture(execute=False):
        summary = renewal_run(at=at, chunk_size=1000)
    assert summary.errors == 0
    return len(ctx.captured_queries)


def test_a_chunk_costs_the_same_statements_for_3_or_24_orders(make_user, django_capture_on_commit_callbacks):
    few = orders_for(make_user, accounts=1, per_account=3, funds="1000")
    small = queries_of_one_chunk(DUE, django_capture_on_commit_callbacks)
    assert SubscriptionLine.objects.filter(periods_billed=2).count() == len(few)
    many = orders_for(
        make_user, accounts=6, per_account=4, funds="1000", prefix="b", at=local(2026, 4, 10, 12)
    )
    assert len(many) == 24
    large = queries_of_one_chunk(local(2026, 5, 4), django_capture_on_commit_callbacks)
    # 3 orders renewed for May (their 3rd period) and 24 for April: one chunk each, same statements
    assert SubscriptionLine.objects.filter(periods_billed=2).count() == 24
    assert SubscriptionLine.objects.filter(periods_billed=3).count() == 3
    assert large == small, (small, large)
    # ids, locks, reads (one the orders' promotion redemptions, issue 20.1), 8 writes (rollups, entry
    # counts), price stamps, savepoints
    assert small <= 22
    for order in few + many:
        assert_ledger(order.account)
    assert rollups_vs_records(account_id=None) == [] and rollups.drift() == {}  # rows_insert rolled up


def test_set_based_rows_match_what_a_renewal_writes(make_user, sent, django_capture_on_commit_callbacks):
    (order,) = orders_for(make_user, accounts=1, per_account=1, funds="100")
    line = SubscriptionLine.objects.select_related("subscription").get(subscription_id=order.subscription_id)
    period = next_period(line)
    with django_capture_on_commit_callbacks(execute=True):
        summary = renewal_run(at=DUE, chunk_size=10)
    assert (summary.renewed, summary.money, summary.failed) == (1, Decimal("30"), 0)
    record = UsageRecord.objects.get(line_id=line.pk, period_key=period.key)
    entry = LedgerEntry.objects.get(
        account_id=order.account_id, idempotency_key=ledger_key_for(line.pk, period.key)
    )
    assert (record.kind, record.status, record.amount, record.ledger_entry_id) == (
        UsageKind.RENEW,
        UsageStatus.PAID,
        Decimal("30"),
        entry.pk,
    )
    assert (record.period_start, record.period_end, record.order_ref) == (
        period.start,
        period.end,
        order.order_id,
    )
    assert record.paid_at == DUE and record.price_version.price == Decimal("30")
    assert (entry.amount, entry.balance_after, entry.subject_type, entry.subject_id) == (
        Decimal("-30"),
        Decimal("40"),
        "purchase_order",
        order.order_id,
    )
    line.refresh_from_db()
    order.refresh_from_db()
    assert (line.periods_billed, line.paid_until) == (2, period.end)
    assert line.next_run_at == period.end - __import__("datetime").timedelta(days=7)
    assert order.deadline == period.end and order.status == PurchaseOrderStatus.CONSUMING
    event = order.events.order_by("-id").first()
    assert event is not None
    assert (event.to_status, event.reason, event.data["money"], event.data["charged"]) == (
        PurchaseOrderStatus.CONSUMING,
        "renewed",
        "30.0000",
        True,
    )
    assert record.price_version.first_used_at is not None
    assert [(p["event"], p["order"]["deadline"], p["data"]) for p in sent] == [
        ("order_renewed", period.end.isoformat(), {"money": "30.0000"})
    ]


def test_an_account_pays_for_the_orders_it_can_and_the_rest_fail(
    make_user, sent, django_capture_on_commit_callbacks
):
    # 5 orders of 30 each cost 150 at creation; 70 left pays for two renewals, not a third.
    orders = orders_for(make_user, accounts=1, per_account=5, funds="220")
    account = orders[0].account
    with django_capture_on_commit_callbacks(execute=True):
        summary = renewal_run(at=DUE, chunk_size=10)
    assert (summary.renewed, summary.failed, summary.money) == (2, 3, Decimal("60"))
    assert balance(account) == Decimal("10")
    statuses = [PurchaseOrder.objects.get(pk=o.pk).status for o in orders]
    assert statuses == [
        PurchaseOrderStatus.CONSUMING,
        PurchaseOrderStatus.CONSUMING,
        PurchaseOrderStatus.RENEWALFAILED,
        PurchaseOrderStatus.RENEWALFAILED,
        PurchaseOrderStatus.RENEWALFAILED,
    ]
    assert sorted(p["event"] for p in sent) == ["order_renew_failed"] * 3 + ["order_renewed"] * 2
    assert_ledger(account)


def test_catch_up_stops_at_the_first_period_the_balance_cannot_cover(
    make_user, django_capture_on_commit_callbacks
):
    (order,) = orders_for(make_user, accounts=1, per_account=1, funds="90")  # 60 left: two periods
    with django_capture_on_commit_callbacks(execute=True):
        summary = renewal_run(at=local(2026, 6, 5), chunk_size=10)  # Apr, May and Jun are due
    assert (summary.renewed, summary.failed) == (2, 1)
    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.RENEWALFAILED and order.deadline == local(2026, 6, 10, 12)
    assert balance(order.account) == Decimal("0")
    assert UsageRecord.objects.filter(order_ref=order.order_id, kind=UsageKind.RENEW).count() == 2
    assert_ledger(order.account)


def test_one_notification_task_per_chunk(make_user, django_capture_on_commit_callbacks, monkeypatch):
    orders_for(make_user, accounts=2, per_account=3, funds="1000")
    batches: list[list[dict[str, Any]]] = []
    send_task = enqueue.send_task

    def record_batches(task_name: str, kwargs: dict[str, Any]) -> bool:
        if task_name != "orders.notify_batch":
            return send_task(task_name, kwargs)
        batches.append(kwargs["payloads"])
        return True

    monkeypatch.setattr("config.enqueue.send_task", record_batches)
    with django_capture_on_commit_callbacks(execute=True):
        renewal_run(at=DUE, chunk_size=4)
    assert [len(b) for b in batches] == [4, 2]
    assert {p["event"] for b in batches for p in b} == {"order_renewed"}


def test_a_recorded_period_makes_the_chunk_fall_back_to_the_careful_path(
    make_user, django_capture_on_commit_callbacks
):
    first, second = orders_for(make_user, accounts=1, per_account=2, funds="1000")
    # A record of the next period of `first` exists (paid) although its line was not advanced.
    line = SubscriptionLine.objects.select_related("subscription").get(subscription_id=first.subscription_id)
    period = next_period(line)
    UsageRecord.objects.create(
        account_id=first.account_id,
        source=line.subscription.kind,
        order_ref=first.order_id,
        line_id=line.pk,
        period_key=period.key,
        plan_id=line.plan_id,
        period_start=period.start,
        period_end=period.end,
        unit_price=Decimal("30"),
        amount=Decimal("30"),
        kind=UsageKind.RENEW,
        status=UsageStatus.PAID,
    )
    before = balance(first.account)
    with django_capture_on_commit_callbacks(execute=True):
        summary = renewal_run(at=DUE, chunk_size=10)
    # `first`'s period is found paid (no money moves), `second` is charged once.
    assert balance(first.account) == before - Decimal("30")
    assert summary.money == Decimal("30")
    assert UsageRecord.objects.filter(line_id=line.pk, period_key=period.key).count() == 1
    for order in (first, second):
        order.refresh_from_db()
        assert order.deadline == local(2026, 5, 10, 12)
        assert order.events.filter(reason="renewed").count() == 1
    line.refresh_from_db()
    assert (line.periods_billed, line.paid_until) == (2, period.end)
    assert_ledger(first.account)
