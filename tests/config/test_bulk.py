"""``config.bulk.rows_update``: one UPDATE writes each row's own values, converted by the fields
(decimals, aware datetimes, None), and touches no other row or column."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import Account
from config.bulk import rows_update

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_in_one_statement():
    accounts = [Account.objects.create(namespace=f"ns{i}", currency="CNY") for i in range(4)]
    Account.objects.create(namespace="other", currency="CNY", balance=Decimal("7.5"))
    stamp = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    for i, account in enumerate(accounts[:3]):
        account.balance = Decimal("10.1234") * (i + 1)
        account.updated_at = stamp
        account.currency = "USD"  # not in the field list: must not be written
    with CaptureQueriesContext(connection) as ctx:
        assert rows_update(accounts[:3], ["balance", "updated_at"]) == 3
    assert len(ctx.captured_queries) == 1
    rows = {a.namespace: a for a in Account.objects.all()}
    assert [rows[f"ns{i}"].balance for i in range(4)] == [
        Decimal("10.1234"),
        Decimal("20.2468"),
        Decimal("30.3702"),
        Decimal("0"),
    ]
    assert {rows[f"ns{i}"].updated_at for i in range(3)} == {stamp}
    assert {rows[f"ns{i}"].currency for i in range(4)} == {"CNY"}
    assert rows["other"].balance == Decimal("7.5")


def test_batches_past_the_statement_limit():
    """(None values are covered by the renewal tests: ``last_renew_fail_notified_at`` reset.)"""
    accounts = [Account.objects.create(namespace=f"n{i}", currency="CNY") for i in range(1203)]
    for i, account in enumerate(accounts):
        account.balance = Decimal(i)
    assert rows_update(accounts, ["balance"]) == 1203
    assert Account.objects.get(namespace="n1202").balance == Decimal("1202")
    assert rows_update([], ["balance"]) == 0


def test_rows_insert_returning_gives_each_object_its_own_row_in_one_statement():
    """``INSERT ... RETURNING`` (B1's ledger entries): every object's key is the row holding its
    values, from the INSERT itself; where the backend cannot return rows it says so (False) and
    leaves the keys to the caller."""
    from billing.models import LedgerEntry
    from config.bulk_insert import rows_insert

    account = Account.objects.create(namespace="ret", currency="CNY")
    entries = [
        LedgerEntry(
            account_id=account.pk,
            amount=Decimal(-i - 1),
            balance_after=Decimal(0),
            kind="charge",
            subject_type="t",
            subject_id=str(i),
            idempotency_key=f"ret:{i}",
        )
        for i in range(1205)  # over one batch of 1,000 rows
    ]
    with CaptureQueriesContext(connection) as ctx:
        returned = rows_insert(entries, returning=True)
    assert returned is connection.features.can_return_rows_from_bulk_insert
    if not returned:
        assert all(e.pk is None for e in entries)
        return
    assert len([q for q in ctx.captured_queries if "RETURNING" in q["sql"]]) == 2
    stored = dict(LedgerEntry.objects.filter(account=account).values_list("pk", "idempotency_key"))
    assert {e.pk: e.idempotency_key for e in entries} == stored
    assert len(stored) == 1205 and all(not e._state.adding for e in entries)


def test_instance_maker_builds_what_the_model_constructor_builds():
    """``config.bulk_insert.instance_maker``: the same field values as ``Model(**kwargs)`` (defaults
    included, a callable default called per object, a related object kept in the cache), and an
    unknown name refused."""
    from billing.models import LedgerEntry
    from config.bulk_insert import instance_maker
    from usage.models import UsageRecord

    account = Account.objects.create(namespace="maker", currency="CNY")
    entry = LedgerEntry.objects.create(
        account=account, amount=Decimal(1), balance_after=Decimal(1), kind="recharge", idempotency_key="m1"
    )
    given = {"account": account, "ledger_entry": entry, "amount": Decimal("2.5"), "order_ref": "o-1"}
    made, plain = instance_maker(UsageRecord)(**given), UsageRecord(**given)
    for field in UsageRecord._meta.concrete_fields:
        assert getattr(made, field.attname) == getattr(plain, field.attname), field.attname
    assert made.ledger_entry is entry and made.account_id == account.pk and made._state.adding
    from orders.purchase.models import PurchaseOrderEvent

    make_event = instance_maker(PurchaseOrderEvent)
    first, second = make_event(reason="a"), make_event(reason="b")
    assert first.data == {} == PurchaseOrderEvent().data
    assert first.data is not second.data  # a callable default (dict) is called per object
    with pytest.raises(TypeError, match="unexpected field 'amout'"):
        instance_maker(LedgerEntry)(amout=Decimal(1))
