"""Issuing statements: totals equal the ledger, lines grouped, idempotent, immutable, drafts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from billing.models import LedgerEntry, MonthlyQuota
from billing.quota import quota_deduct
from billing.services import (
    account_credit,
    account_get_or_create,
)
from billing.statements.models import ImmutableDocument, Statement, StatementBatch, StatementLine
from billing.statements.services import (
    candidates,
    statement_draft,
    statements_issue_for,
    statements_issue_run,
)
from config.exceptions import InvalidInput
from plans.models import MeteredService
from tests.billing.statements.helpers import JUNE, MAY, frozen, ledger_balance_at, local, may_account

pytestmark = pytest.mark.django_db


def _issue(period: Any = MAY, at: Any = None) -> Any:
    with frozen(at or local(2026, 6, 1, 1, 30)):
        return statements_issue_for(accounts=candidates(period=period), period=period)


def test_a_statement_states_the_month_and_equals_the_ledger() -> None:
    account = may_account()
    result = _issue()
    assert [s.namespace for s in result.issued] == ["acme"]
    st = Statement.objects.get(account=account, period=MAY.month)
    assert st.number == "TLY-2026-000001"
    assert st.opening_balance == Decimal("90.0000") == ledger_balance_at(account, MAY.start)
    assert st.closing_balance == ledger_balance_at(account, MAY.end) == Decimal("69.5000")
    lines = list(st.lines.order_by("position"))
    assert st.closing_balance == st.opening_balance + sum(ln.amount for ln in lines)
    assert st.total_recharges == Decimal("50") and st.total_charges == Decimal("-73.0")
    assert st.total_refunds == Decimal("4.25") and st.total_adjustments == Decimal("-1.75")
    assert st.entry_count == 7
    groups = [(ln.kind, ln.group_type, ln.group_id, ln.entry_count, ln.amount) for ln in lines]
    assert groups == [
        ("recharge", "recharge", "R1", 1, Decimal("50")),
        ("charge", "purchase_order", "PO-1", 2, Decimal("-60")),
        ("charge", "purchase_order", "PO-2", 1, Decimal("-12.5")),
        ("refund", "purchase_order", "PO-2", 1, Decimal("4.25")),
        ("adjustment", "entry", str(LedgerEntry.objects.get(kind="adjustment").pk), 1, Decimal("-1.75")),
        ("charge", "vehicle_order", "V-9", 1, Decimal("-0.5")),
    ]
    assert lines[4].description == "goodwill fix"
    # June's entry is not on it, and the account's balance today includes it
    account.refresh_from_db()
    assert account.balance == st.closing_balance - 7


def test_reissuing_issues_nothing_new_and_numbers_run_on() -> None:
    may_account("a1")
    may_account("a2")
    first = _issue()
    assert sorted(s.number for s in first.issued) == ["TLY-2026-000001", "TLY-2026-000002"]
    again = _issue()
    assert again.issued == [] and Statement.objects.count() == 2
    assert candidates(period=MAY) == []
    with frozen(local(2026, 6, 2)):
        result = statements_issue_run(period=MAY, chunk_size=1)
    assert result.issued == [] and Statement.objects.count() == 2
    assert not StatementBatch.objects.filter(state="pending").exists()
    # June, issued in July: the next numbers, opening = May's closing
    with frozen(local(2026, 7, 1, 2)):
        june = statements_issue_run(period=JUNE, chunk_size=1)
    assert sorted(s.number for s in june.issued) == ["TLY-2026-000003", "TLY-2026-000004"]
    for st in june.issued:
        may = Statement.objects.get(account_id=st.account_id, period=MAY.month)
        assert st.opening_balance == may.closing_balance


def test_issued_documents_refuse_every_change() -> None:
    may_account()
    st = _issue().issued[0]
    st.refresh_from_db()
    st.closing_balance = Decimal("1")
    with pytest.raises(ImmutableDocument):
        st.save()
    with pytest.raises(ImmutableDocument):
        st.delete()
    with pytest.raises(ImmutableDocument):
        Statement.objects.filter(pk=st.pk).update(closing_balance=0)
    with pytest.raises(ImmutableDocument):
        StatementLine.objects.filter(statement=st).delete()
    line = st.lines.first()
    line.amount = Decimal("0")
    with pytest.raises(ImmutableDocument):
        line.save()
    assert Statement.objects.get(pk=st.pk).closing_balance == Decimal("69.5000")


def test_the_running_month_is_only_previewed() -> None:
    account = may_account()
    with frozen(local(2026, 5, 25)):
        with pytest.raises(InvalidInput) as exc:
            statements_issue_for(accounts=candidates(period=MAY), period=MAY)
        assert "period" in exc.value.errors
        draft = statement_draft(account=account, period=MAY)
    assert Statement.objects.count() == 0
    assert draft.closing_balance == Decimal("69.5000") and len(draft.lines) == 6


def test_an_account_with_nothing_to_state_gets_no_statement() -> None:
    with frozen(local(2026, 4, 1)):
        account_get_or_create(namespace="idle")
    may_account("busy")
    result = _issue()
    assert [s.namespace for s in result.issued] == ["busy"]


def test_metered_calls_are_one_line_per_service_and_price_with_the_free_quota(settings: Any) -> None:
    svc = MeteredService.objects.get(service="payment")
    with frozen(local(2026, 5, 2)):
        account = account_get_or_create(namespace="meter")
        account_credit(account_id=account.pk, amount=Decimal("100"), idempotency_key="m:fund")
        for i in range(3):
            quota_deduct(account_id=account.pk, service="payment", count=svc.monthly_free_quota // 2 + 5,
                         request_id=f"r{i}")  # fmt: skip
    result = _issue()
    st = result.issued[0]
    metered = [ln for ln in st.lines.all() if ln.group_type == "metered_service"]
    quota = MonthlyQuota.objects.get(account=account, service=svc)
    paid = 3 * (svc.monthly_free_quota // 2 + 5) - svc.monthly_free_quota
    assert len(metered) == 1 and metered[0].group_id == "payment"
    assert metered[0].quantity == paid and metered[0].unit_price == svc.unit_price
    assert metered[0].amount == -(paid * svc.unit_price)
    assert {
        "service": "payment",
        "total": quota.total,
        "used": quota.used,
        "paid_calls": paid,
    } in st.free_quota
    assert st.closing_balance == ledger_balance_at(account, MAY.end)


def test_the_command_issues_with_a_progress_bar_and_its_dry_run_writes_nothing(capsys: Any) -> None:
    may_account("c1")
    may_account("c2")
    with frozen(local(2026, 6, 3)):
        call_command("issue_statements", "--period", "2026-05", "--dry-run")
        out = capsys.readouterr()
        assert "dry run: would issue 2 statement(s)" in out.out
    with frozen(local(2026, 5, 20)):  # May is still running: the real run refuses, the preview says so
        call_command("issue_statements", "--period", "2026-05", "--dry-run")
        draft = capsys.readouterr().out
        assert "not over yet, so issue_statements would refuse it" in draft and "would issue" not in draft
        with pytest.raises(CommandError, match="not over yet"):
            call_command("issue_statements", "--period", "2026-05")
    with frozen(local(2026, 6, 3)):
        assert Statement.objects.count() == 0 and StatementBatch.objects.count() == 0
        call_command("issue_statements", "--period", "2026-05", "--namespace", "c2")
        assert list(Statement.objects.values_list("namespace", flat=True)) == ["c2"]
        call_command("issue_statements", "--period", "2026-05")
        out = capsys.readouterr()
    assert "issued 1 statement(s)" in out.out and "statements" in out.err  # tqdm's bar on stderr
    assert Statement.objects.count() == 2
