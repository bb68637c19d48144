"""Late meter events (issue 20, part 3): accepted within METER_EVENT_LATENESS_DAYS and billed once,
as a correction of their period's record, by the next billing-job run (docs/package-orders.md)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import LedgerEntry
from orders.engine.billing import period_amount
from orders.jobs import billing_jobs_run
from orders.package.errors import MeterEventsRefused
from tests.orders.package.factories import T0, assert_balanced
from tests.orders.package.metered_order import charged_metered_account, event, ingest
from usage.audit import ledger_audit
from usage.models import MeterEvent, UsageKind, UsageRecord

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture
def account():
    return charged_metered_account()


def test_a_late_event_is_billed_once_as_a_correction_of_its_period(account):
    assert (
        ingest(account, event("a", "4", T0 + timedelta(minutes=10)), at=T0 + timedelta(minutes=30)).accepted
        == 1
    )
    billing_jobs_run(at=T0 + HOUR + timedelta(minutes=1))
    original = UsageRecord.objects.get(kind=UsageKind.USAGE, period_start=T0)
    assert original.quantity == 4 and original.amount == Decimal("2.0000") and original.status == "paid"
    assert MeterEvent.objects.get(event_id="a").billed_record_id == original.pk

    # the first hour is billed: an event of it is late, accepted and not billed yet
    late = ingest(account, event("b", "6", T0 + timedelta(minutes=20)), at=T0 + HOUR + timedelta(minutes=5))
    assert (late.accepted, late.rejected) == (1, [])
    stored = MeterEvent.objects.get(event_id="b")
    assert stored.late and stored.billed_record_id is None

    summary = billing_jobs_run(at=T0 + HOUR + timedelta(minutes=6))
    assert summary["late_corrections"] == 1
    fix = UsageRecord.objects.get(kind=UsageKind.CORRECTION)
    assert fix.corrects_id == original.pk and fix.line_id == original.line_id
    assert (fix.period_start, fix.period_end) == (original.period_start, original.period_end)
    assert fix.quantity == 6 and fix.amount == Decimal("3.0000") and fix.status == "paid"
    assert fix.ledger_entry.amount == Decimal("-3.0000")
    assert fix.ledger_entry.subject_type == "package_order"
    stored.refresh_from_db()
    assert stored.billed_record_id == fix.pk

    # run again, and replay the late event: no second bill
    assert billing_jobs_run(at=T0 + HOUR + timedelta(minutes=7)).get("late_corrections", 0) == 0
    replay = ingest(account, event("b", "6", T0 + timedelta(minutes=20)), at=T0 + HOUR + timedelta(minutes=8))
    assert (replay.accepted, replay.duplicates) == (0, 1)
    assert billing_jobs_run(at=T0 + HOUR + timedelta(minutes=9)).get("late_corrections", 0) == 0
    assert UsageRecord.objects.filter(kind=UsageKind.CORRECTION).count() == 1
    assert LedgerEntry.objects.filter(amount=Decimal("-3.0000")).count() == 1
    assert_balanced(account)
    assert ledger_audit() == []


def test_late_events_of_two_periods_make_one_correction_each_and_the_sums_stay_exact(account):
    billing_jobs_run(at=T0 + 3 * HOUR + timedelta(minutes=1))  # three empty hours billed (0 each)
    at = T0 + 3 * HOUR + timedelta(minutes=2)
    res = ingest(
        account,
        event("x1", "0.3333", T0 + timedelta(minutes=1)),
        event("x2", "0.3333", T0 + timedelta(minutes=2)),
        event("y1", "1.0001", T0 + HOUR + timedelta(minutes=1)),
        event("now", "2", T0 + 3 * HOUR + timedelta(minutes=1)),  # the open hour: not late
        at=at,
    )
    assert res.accepted == 4
    assert list(MeterEvent.objects.order_by("event_id").values_list("event_id", "late")) == [
        ("now", False),
        ("x1", True),
        ("x2", True),
        ("y1", True),
    ]
    assert billing_jobs_run(at=at)["late_corrections"] == 2
    for record in UsageRecord.objects.filter(kind=UsageKind.USAGE, period_start__lt=T0 + 2 * HOUR):
        group = [record, *record.corrections.all()]
        quantity = sum((r.quantity for r in group), Decimal(0))
        assert sum((r.amount for r in group), Decimal(0)) == period_amount(
            unit_price=record.unit_price, quantity=quantity
        )
    assert UsageRecord.objects.get(corrects__period_start=T0).quantity == Decimal("0.6666")
    assert MeterEvent.objects.get(event_id="now").billed_record_id is None  # billed with its hour
    billing_jobs_run(at=T0 + 4 * HOUR + timedelta(minutes=1))
    assert UsageRecord.objects.get(kind=UsageKind.USAGE, period_start=T0 + 3 * HOUR).quantity == 2
    assert_balanced(account)
    assert ledger_audit() == []


def test_a_late_correction_the_balance_cannot_cover_goes_to_arrears(account):
    billing_jobs_run(at=T0 + HOUR + timedelta(minutes=1))
    ingest(account, event("big", "100000", T0 + timedelta(minutes=5)), at=T0 + HOUR + timedelta(minutes=2))
    summary = billing_jobs_run(at=T0 + HOUR + timedelta(minutes=3))
    assert summary["late_corrections"] == 1 and summary["arrears"] == 1
    fix = UsageRecord.objects.get(kind=UsageKind.CORRECTION)
    assert fix.status == "arrears" and fix.ledger_entry_id is None and fix.amount == Decimal("50000.0000")
    assert_balanced(account)
    assert ledger_audit() == []


def test_an_event_older_than_the_lateness_window_refuses_the_batch_naming_the_field(account, settings):
    settings.METER_EVENT_LATENESS_DAYS = 2
    billing_jobs_run(at=T0 + HOUR + timedelta(minutes=1))
    batch = [
        event("ok", "1", T0 + 2 * HOUR),
        event("old", "1", T0 + timedelta(minutes=5)),
    ]
    with pytest.raises(MeterEventsRefused) as refused:
        ingest(account, *batch, at=T0 + timedelta(days=2, minutes=6))
    assert list(refused.value.errors) == ["events[1].timestamp"]
    assert "METER_EVENT_LATENESS_DAYS" in refused.value.errors["events[1].timestamp"][0]
    assert not MeterEvent.objects.exists()  # nothing of the batch stored
    # inside the window the same late event is accepted
    assert ingest(account, *batch, at=T0 + timedelta(days=2, minutes=4)).accepted == 2


def test_the_api_answers_a_too_late_event_with_the_envelope(client_for, make_user, account, settings):
    settings.METER_EVENT_LATENESS_DAYS = 35
    billing_jobs_run(at=T0 + HOUR + timedelta(minutes=1))
    user = make_user("alice")
    account.members.add(user)
    api = client_for(user)
    body = {"events": [event("old", "1", T0 + timedelta(minutes=5))]}  # months before today
    r = api.post("/api/v1/meter-events", body, format="json")
    assert r.status_code == 400, r.content
    envelope = r.json()
    assert envelope["code"] == 3408
    assert list(envelope["data"]["errors"]) == ["events[0].timestamp"]
    assert not MeterEvent.objects.exists()


def test_an_event_before_the_subscription_started_is_rejected_by_index(account):
    billing_jobs_run(at=T0 + HOUR + timedelta(minutes=1))
    res = ingest(account, event("early", "1", T0 - timedelta(minutes=1)), at=T0 + HOUR + timedelta(minutes=2))
    assert res.accepted == 0 and "before the first period" in res.rejected[0]["reason"]


def test_run_billing_at_bills_late_events(account):
    call_command("run_billing", "--at", (T0 + HOUR + timedelta(minutes=1)).isoformat(), stdout=StringIO())
    ingest(account, event("late", "2", T0 + timedelta(minutes=5)), at=T0 + HOUR + timedelta(minutes=2))
    call_command("run_billing", "--at", (T0 + HOUR + timedelta(minutes=3)).isoformat(), stdout=StringIO())
    call_command("run_billing", "--at", (T0 + HOUR + timedelta(minutes=4)).isoformat(), stdout=StringIO())
    fix = UsageRecord.objects.get(kind=UsageKind.CORRECTION)
    assert fix.amount == Decimal("1.0000") and fix.corrects.period_start == T0
    assert_balanced(account)
    assert ledger_audit() == []
