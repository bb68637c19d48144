"""Voiding meter events (issue 20, part 3): before billing they are left out, after billing a
negative correction refunds exactly their amount; a second void does nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from billing.services import account_credit
from orders.jobs import billing_jobs_run
from orders.package.errors import MeterEventsRefused
from orders.package.metering import meter_events_ingest
from orders.package.metering_void import meter_events_void
from orders.package.services import package_order_charge
from tests.orders.package.factories import T0, assert_balanced, create_order, funded_account, make_catalog
from tests.orders.package.metered_order import charged_metered_account, event, ingest
from usage.audit import ledger_audit
from usage.models import MeterEvent, UsageKind, UsageRecord

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


@pytest.fixture
def account():
    return charged_metered_account()


def balance(account):
    account.refresh_from_db()
    return account.balance


def test_a_voided_event_is_never_billed(account):
    ingest(account, event("a", "4", T0 + 10 * MIN), event("b", "6", T0 + 20 * MIN), at=T0 + 30 * MIN)
    res = meter_events_void(account_id=account.pk, event_ids=["b"], at=T0 + 40 * MIN)
    assert (res.voided, res.already_voided, res.refunded, res.corrections) == (1, 0, 0, [])
    billing_jobs_run(at=T0 + HOUR + MIN)
    record = UsageRecord.objects.get(kind=UsageKind.USAGE, period_start=T0)
    assert record.quantity == 4 and record.amount == Decimal("2.0000")
    assert MeterEvent.objects.get(event_id="b").billed_record_id is None
    assert not UsageRecord.objects.filter(kind=UsageKind.CORRECTION).exists()
    assert_balanced(account)


def test_voiding_billed_events_refunds_exactly_their_amount_once(account):
    ingest(
        account,
        event("a", "0.3333", T0 + 10 * MIN),
        event("b", "0.3333", T0 + 20 * MIN),
        event("c", "0.3333", T0 + 30 * MIN),
        at=T0 + 40 * MIN,
    )
    billing_jobs_run(at=T0 + HOUR + MIN)
    record = UsageRecord.objects.get(kind=UsageKind.USAGE, period_start=T0)
    assert record.amount == Decimal("0.5000")  # 0.9999 x 0.5 half up
    before = balance(account)

    res = meter_events_void(account_id=account.pk, event_ids=["a", "b"], at=T0 + HOUR + 2 * MIN)
    assert (res.voided, res.already_voided) == (2, 0)
    fix = UsageRecord.objects.get(kind=UsageKind.CORRECTION)
    assert fix.corrects_id == record.pk and fix.quantity == Decimal("-0.6666")
    assert fix.amount == Decimal("-0.3333") and res.refunded == Decimal("0.3333")  # 0.5000 - 0.1667
    assert fix.status == "paid" and fix.ledger_entry.kind == "refund"
    assert fix.ledger_entry.amount == Decimal("0.3333")
    assert balance(account) == before + Decimal("0.3333")
    assert res.corrections == [
        {"id": fix.pk, "corrects": record.pk, "quantity": Decimal("-0.6666"), "amount": Decimal("-0.3333")}
    ]

    # twice: nothing more
    again = meter_events_void(account_id=account.pk, event_ids=["a", "b"], at=T0 + HOUR + 3 * MIN)
    assert (again.voided, again.already_voided, again.refunded, again.corrections) == (0, 2, 0, [])
    assert UsageRecord.objects.filter(kind=UsageKind.CORRECTION).count() == 1

    # the last one: the period's records now add up to zero, exactly what was charged comes back
    meter_events_void(account_id=account.pk, event_ids=["c"], at=T0 + HOUR + 4 * MIN)
    group = UsageRecord.objects.filter(period_start=T0, line_id=record.line_id)
    assert sum(group.values_list("amount", flat=True), Decimal(0)) == 0
    assert balance(account) == before + record.amount
    assert billing_jobs_run(at=T0 + HOUR + 5 * MIN).get("late_corrections", 0) == 0
    assert_balanced(account)
    assert ledger_audit() == []


def test_voiding_a_late_event_billed_by_a_correction_refunds_it(account):
    billing_jobs_run(at=T0 + HOUR + MIN)
    ingest(account, event("late", "8", T0 + 5 * MIN), at=T0 + HOUR + 2 * MIN)
    billing_jobs_run(at=T0 + HOUR + 3 * MIN)
    late_fix = UsageRecord.objects.get(kind=UsageKind.CORRECTION)
    assert late_fix.amount == Decimal("4.0000")
    res = meter_events_void(account_id=account.pk, event_ids=["late"], at=T0 + HOUR + 4 * MIN)
    assert res.refunded == Decimal("4.0000")
    void_fix = UsageRecord.objects.get(kind=UsageKind.CORRECTION, amount__lt=0)
    assert void_fix.corrects_id == late_fix.corrects_id  # both correct the period's record
    assert_balanced(account)
    assert ledger_audit() == []


def test_a_voided_late_event_is_not_billed(account):
    billing_jobs_run(at=T0 + HOUR + MIN)
    ingest(account, event("late", "8", T0 + 5 * MIN), at=T0 + HOUR + 2 * MIN)
    meter_events_void(account_id=account.pk, event_ids=["late"], at=T0 + HOUR + 3 * MIN)
    assert billing_jobs_run(at=T0 + HOUR + 4 * MIN).get("late_corrections", 0) == 0
    assert not UsageRecord.objects.filter(kind=UsageKind.CORRECTION).exists()


def test_an_unknown_id_refuses_the_call_and_voids_nothing(account):
    ingest(account, event("a", "1", T0 + 10 * MIN), at=T0 + 20 * MIN)
    other = funded_account("bob", "10")
    meter_events_ingest(account_id=other.pk, events=[], at=T0)
    with pytest.raises(MeterEventsRefused) as refused:
        meter_events_void(account_id=account.pk, event_ids=["a", "nope"], at=T0 + 30 * MIN)
    assert list(refused.value.errors) == ["event_ids[1]"]
    assert MeterEvent.objects.get(event_id="a").voided_at is None
    # another namespace's event is unknown here
    with pytest.raises(MeterEventsRefused):
        meter_events_void(account_id=other.pk, event_ids=["a"], at=T0 + 30 * MIN)


def test_the_void_endpoint(client_for, make_user, account):
    user = make_user("alice")
    account.members.add(user)
    api = client_for(user)
    ingest(account, event("a", "4", T0 + 10 * MIN), at=T0 + 20 * MIN)
    billing_jobs_run(at=T0 + HOUR + MIN)
    r = api.post("/api/v1/meter-events/void", {"event_ids": ["a"]}, format="json")
    assert r.status_code == 200, r.content
    data = r.json()["data"]
    assert data["voided"] == 1 and data["already_voided"] == 0 and data["refunded"] == "2.0000"
    (fix,) = data["corrections"]
    assert fix["amount"] == "-2.0000" and fix["quantity"] == "-4.0000"
    bills = api.get("/api/v1/bills?status=paid").json()["data"]["results"]
    shown = next(b for b in bills if b["id"] == fix["id"])
    assert shown["kind"] == "correction" and shown["corrects"] == fix["corrects"]
    usages = api.get("/usageapi/v1/usages").json()["data"]
    rows = usages["results"] if isinstance(usages, dict) else usages
    assert any(u["kind"] == "correction" and u["corrects"] == fix["corrects"] for u in rows)
    r = api.post("/api/v1/meter-events/void", {"event_ids": ["a", "zzz"]}, format="json")
    assert r.status_code == 400 and r.json()["code"] == 3408
    assert list(r.json()["data"]["errors"]) == ["event_ids[1]"]
    assert api.post("/api/v1/meter-events/void", {"event_ids": []}, format="json").json()["code"] == 3307
    assert LedgerEntry.objects.filter(kind="refund").count() == 1


def test_voiding_an_event_of_a_month_already_stated_gives_a_credit_note(django_capture_on_commit_callbacks):
    from billing.statements.models import CreditNote
    from billing.statements.services import candidates, statements_issue_for
    from tests.billing.statements.helpers import MAY, frozen, local

    make_catalog()
    start = local(2026, 5, 10)
    with frozen(start), django_capture_on_commit_callbacks(execute=True):
        account = funded_account("carol", "0")
        account_credit(
            account_id=account.pk, amount=Decimal("500"), idempotency_key="fund", subject=("test", "fund")
        )
        res = create_order(account, ext="i-1", at=start)
        package_order_charge(order_pk=res.order.pk, at=start)
        ingest(account, event("may", "10", start + 10 * MIN), at=start + 20 * MIN)
        billing_jobs_run(at=start + HOUR + MIN)
    with frozen(local(2026, 6, 1, 0, 5)), django_capture_on_commit_callbacks(execute=True):
        [statement] = statements_issue_for(accounts=candidates(period=MAY), period=MAY).issued
    with frozen(local(2026, 6, 2)), django_capture_on_commit_callbacks(execute=True):
        result = meter_events_void(account_id=account.pk, event_ids=["may"])
    assert result.refunded == Decimal("5.0000")
    fix = UsageRecord.objects.get(kind=UsageKind.CORRECTION)
    note = CreditNote.objects.get()
    assert note.ledger_entry_id == fix.ledger_entry_id and note.amount == Decimal("5.0000")
    assert note.statement == statement
