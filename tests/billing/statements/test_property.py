"""On random ledgers: opening + lines == closing == the ledger balance at the period end."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.services import (
    account_adjust,
    account_charge,
    account_credit,
    account_get_or_create,
    account_refund,
)
from billing.statements.models import Statement
from billing.statements.services import candidates, statements_issue_for
from config.exceptions import InsufficientFunds
from tests.billing.statements.helpers import JUNE, MAY, frozen, ledger_balance_at, local

pytestmark = pytest.mark.django_db

START = local(2026, 4, 25)
SPAN_MINUTES = int((local(2026, 6, 28) - START).total_seconds() // 60)
_names = itertools.count()

money = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4)
op = st.tuples(
    st.integers(min_value=0, max_value=SPAN_MINUTES),
    st.sampled_from(["credit", "charge", "refund", "adjust+", "adjust-"]),
    money,
    st.sampled_from(["purchase_order:P1", "purchase_order:P2", "package_order:K1", "vehicle_order:V1", ""]),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(op, min_size=0, max_size=25))
def test_statements_equal_the_ledger(ops: list[tuple[int, str, Decimal, str]]) -> None:
    namespace = f"h{next(_names)}"
    with frozen(START - timedelta(days=1)):
        account = account_get_or_create(namespace=namespace)
    for i, (minute, kind, amount, subject_ref) in enumerate(sorted(ops, key=lambda o: o[0])):
        subject = tuple(subject_ref.split(":")) if subject_ref else None
        key = f"{namespace}:{i}"
        with frozen(START + timedelta(minutes=minute)):
            try:
                if kind == "credit":
                    account_credit(account_id=account.pk, amount=amount, idempotency_key=key, subject=subject)
                elif kind == "charge":
                    account_charge(account_id=account.pk, amount=amount, idempotency_key=key, subject=subject)
                elif kind == "refund":
                    account_refund(account_id=account.pk, amount=amount, idempotency_key=key, subject=subject)
                else:
                    signed = amount if kind == "adjust+" else -amount
                    account_adjust(
                        account_id=account.pk, amount=signed, reason="r", actor=None, idempotency_key=key
                    )
            except InsufficientFunds:
                pass
    with frozen(local(2026, 7, 2)):
        for period in (MAY, JUNE):
            result = statements_issue_for(
                accounts=candidates(period=period, namespace=namespace), period=period
            )
            assert result.inconsistent == []
    previous_closing = ledger_balance_at(account, MAY.start)
    for period in (MAY, JUNE):
        statement = Statement.objects.filter(account=account, period=period.month).first()
        expected = ledger_balance_at(account, period.end)
        if statement is None:  # nothing to state: no balance, no entries
            assert previous_closing == expected == 0
            continue
        lines = list(statement.lines.all())
        assert statement.opening_balance == previous_closing
        assert statement.closing_balance == statement.opening_balance + sum(
            (ln.amount for ln in lines), Decimal(0)
        )
        assert statement.closing_balance == expected
        totals = (
            statement.total_recharges
            + statement.total_charges
            + statement.total_refunds
            + statement.total_adjustments
        )
        assert statement.closing_balance - statement.opening_balance == totals
        assert statement.entry_count == sum(ln.entry_count for ln in lines)
        previous_closing = statement.closing_balance
