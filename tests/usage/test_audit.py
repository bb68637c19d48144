"""The ledger audit (usage.audit.ledger_audit): clean data has no findings; each kind of drift is
found, named and pointed at the offending row."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Account, LedgerEntry, RechargeOrder
from billing.recharges import recharge_handle_callback
from billing.services import account_charge, account_credit, account_get_or_create
from orders.purchase.renewal import renewal_run
from orders.purchase.services import purchase_order_create
from plans.models import BillingMode, Cycle
from tests.conftest import mariadb_only
from tests.orders.purchase.helpers import local, make_plan
from usage.audit import CHECKS, Finding, ledger_audit, ledger_entry_count
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


def funded(namespace: str, amount: str) -> Account:
    account = account_get_or_create(namespace=namespace)
    account_credit(
        account_id=account.pk,
        amount=Decimal(amount),
        idempotency_key=f"fund:{namespace}",
        subject=("test_funding", namespace),
    )
    account.refresh_from_db()
    return account


@pytest.fixture
def books(user):
    """Two accounts with orders, renewals, a recharge and an hourly order: consistent books."""
    alice, bob = funded("alice", "500"), funded("bob", "100")
    make_plan("vol-50g", "30")
    make_plan("cpu-hour", "2", plan_type="cpu", region="", mode=BillingMode.HOURLY, cycle=Cycle.HOUR)
    purchase_order_create(
        account=alice, creator=user, region="cn-north-1", plan_id="vol-50g", at=local(2026, 3, 5)
    )
    purchase_order_create(
        account=bob, creator=None, region="cn-north-1", plan_id="vol-50g", at=local(2026, 3, 7)
    )
    purchase_order_create(
        account=alice, creator=user, region="cn-east-1", plan_id="cpu-hour", at=local(2026, 3, 21, 8)
    )
    renewal_run(at=local(2026, 3, 31), chunk_size=10)
    order = RechargeOrder.objects.create(
        public_id="R1", account=alice, amount=Decimal("12.5"), currency="CNY", payment_method="sandbox"
    )
    recharge_handle_callback(
        recharge_order_id="R1", payment_id="P1", amount=Decimal("12.5"), status="SUCCESS"
    )
    order.refresh_from_db()
    assert order.status == "success"
    return {"alice": alice, "bob": bob, "recharge": order}


def checks(findings: list[Finding]) -> list[str]:
    return sorted(f.check for f in findings)


def test_consistent_books_have_no_findings(books):
    assert UsageRecord.objects.filter(kind="renew").count() == 2
    steps: list[tuple[str, int]] = []
    assert ledger_audit(progress=lambda step, n: steps.append((step, n))) == []
    assert sum(n for step, n in steps if step == "ledger") == LedgerEntry.objects.count()
    assert ledger_entry_count() == LedgerEntry.objects.count()
    assert ledger_audit(namespace="alice") == [] and ledger_audit(namespace="nobody") == []


def _raw(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_balance_drift_is_found_with_both_amounts(books):
    alice = Account.objects.get(pk=books["alice"].pk)
    Account.objects.filter(pk=alice.pk).update(balance=alice.balance + Decimal("0.0001"))
    (finding,) = ledger_audit()
    assert finding.check == "balance_mismatch" and finding.namespace == "alice"
    assert (finding.expected, finding.actual) == (str(alice.balance), str(alice.balance + Decimal("0.0001")))
    assert finding.object_type == "account" and finding.object_id == str(alice.pk)
    assert ledger_audit(namespace="bob") == []


def test_negative_balance_and_drift(books):
    bob = books["bob"]
    # The database refuses a negative balance (check constraint); drift could still come from a
    # restored backup or a hand edit on a database without the constraint: simulate it.
    if connection.vendor == "sqlite":
        _raw("PRAGMA ignore_check_constraints = ON", [])
    else:
        _raw("SET SESSION check_constraint_checks = OFF", [])
    try:
        Account.objects.filter(pk=bob.pk).update(balance=Decimal("-1"))
    finally:
        if connection.vendor == "sqlite":
            _raw("PRAGMA ignore_check_constraints = OFF", [])
        else:
            _raw("SET SESSION check_constraint_checks = ON", [])
    assert checks(ledger_audit(namespace="bob")) == ["balance_mismatch", "negative_balance"]


def test_entry_without_subject(books):
    alice = books["alice"]
    posting = account_charge(account_id=alice.pk, amount=Decimal("1"), idempotency_key="nosubj")
    (finding,) = ledger_audit()
    assert finding.check == "entry_without_subject" and finding.object_id == str(posting.entry.pk)


def test_paid_record_without_entry_and_amount_mismatch(books):
    rec = UsageRecord.objects.filter(kind="renew", account=books["alice"]).get()
    entry_id = rec.ledger_entry_id
    UsageRecord.objects.filter(pk=rec.pk).update(amount=rec.amount + 1)
    (finding,) = ledger_audit()
    assert finding.check == "record_entry_mismatch" and finding.object_id == str(entry_id)
    assert (finding.expected, finding.actual) == (str(-(rec.amount + 1)), str(-rec.amount))
    UsageRecord.objects.filter(pk=rec.pk).update(amount=rec.amount, ledger_entry=None)
    (finding,) = ledger_audit()
    assert finding.check == "paid_record_without_entry" and finding.object_id == str(rec.pk)


def test_record_of_another_account_on_an_entry(books):
    rec = UsageRecord.objects.filter(kind="renew", account=books["alice"]).get()
    UsageRecord.objects.filter(pk=rec.pk).update(account=books["bob"])
    assert "record_entry_mismatch" in checks(ledger_audit())


def test_period_billed_twice(books):
    rec = UsageRecord.objects.filter(kind="renew", account=books["alice"]).get()
    UsageRecord.objects.filter(pk=rec.pk).update(period_start=rec.period_start - timedelta(days=1))
    (finding,) = ledger_audit()
    assert finding.check == "period_billed_twice" and finding.object_id == str(rec.pk)
    UsageRecord.objects.filter(pk=rec.pk).update(status="canceled")  # a canceled period does not count
    assert ledger_audit() == []


def test_recharge_credited_twice_not_at_all_or_without_order(books):
    alice, order = books["alice"], books["recharge"]
    account_credit(
        account_id=alice.pk, amount=Decimal("12.5"), idempotency_key="again", subject=("recharge", "R1")
    )
    (finding,) = ledger_audit()
    assert finding.check == "recharge_not_credited_once" and finding.object_id == "R1"
    assert finding.actual == "2 credit(s)"
    pending = RechargeOrder.objects.create(
        public_id="R2", account=alice, amount=Decimal("5"), currency="CNY", payment_method="sandbox"
    )
    account_credit(account_id=alice.pk, amount=Decimal("5"), idempotency_key="r2", subject=("recharge", "R2"))
    account_credit(account_id=alice.pk, amount=Decimal("7"), idempotency_key="r3", subject=("recharge", "R3"))
    found = {(f.check, f.object_id) for f in ledger_audit()}
    assert ("recharge_not_credited_once", pending.public_id) in found
    assert any(check == "recharge_credit_without_order" for check, _ in found)
    RechargeOrder.objects.filter(pk=order.pk).update(ledger_entry=None)
    assert ("recharge_not_credited_once", "R1") in {(f.check, f.object_id) for f in ledger_audit()}


def test_checks_are_named():
    assert len(set(CHECKS)) == len(CHECKS) == 10


def test_one_entry_paying_several_records_adds_up_per_entry(books):
    """An entry that pays several records (arrears settled at once) is summed over all of them:
    exact -> no finding; one record off -> one finding naming the entry and the record count."""
    alice = books["alice"]
    posting = account_charge(
        account_id=alice.pk, amount=Decimal("3"), idempotency_key="two", subject=("purchase_order", "X")
    )
    start = local(2026, 4, 1)
    for k, amount in enumerate((Decimal("1"), Decimal("2"))):
        UsageRecord.objects.create(
            account=alice, source="purchase", order_ref="X", line_id=999, period_key=f"p:{k}",
            period_start=start + timedelta(hours=k), period_end=start + timedelta(hours=k + 1),
            unit_price=amount, amount=amount, kind="hourly", status="paid", ledger_entry=posting.entry,
        )  # fmt: skip
    assert ledger_audit() == []
    UsageRecord.objects.filter(line_id=999, period_key="p:1").update(amount=Decimal("2.5"))
    (finding,) = ledger_audit()
    assert (finding.check, finding.object_id) == ("record_entry_mismatch", str(posting.entry.pk))
    assert (finding.expected, finding.actual, finding.detail) == ("-3.5000", "-3.0000", "2 paid record(s)")


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_parallel_audit_finds_what_the_sequential_one_finds(books, monkeypatch):
    """Outside a transaction on MariaDB the independent parts run on their own connections; the
    findings are the same as one connection's, one after the other."""
    from usage.audit import checks as audit_checks

    alice, bob = books["alice"], books["bob"]
    rec = UsageRecord.objects.filter(kind="renew", account=alice).get()
    UsageRecord.objects.filter(pk=rec.pk).update(amount=rec.amount + 1)
    other = UsageRecord.objects.filter(kind="renew", account=bob).get()
    UsageRecord.objects.filter(pk=other.pk).update(period_start=other.period_start - timedelta(days=1))
    Account.objects.filter(pk=bob.pk).update(balance=Account.objects.get(pk=bob.pk).balance + 1)
    threads: list[str] = []
    real = audit_checks._on_own_connection

    def counted(part):
        threads.append(threading.current_thread().name)
        return real(part)

    monkeypatch.setattr(audit_checks, "_on_own_connection", counted)
    assert not connection.in_atomic_block
    parallel = ledger_audit()
    assert len(threads) == 4 and all(name.startswith("audit") for name in threads)
    assert checks(parallel) == ["balance_mismatch", "period_billed_twice", "record_entry_mismatch"]
    monkeypatch.setattr(audit_checks, "PARALLEL", 1)
    assert ledger_audit() == parallel and len(threads) == 4
