"""The usage rollups (``usage.rollups``, issue 21 B3) follow every write of usage records in the
writer's transaction: inserts, batch renewals, status changes (arrears -> paid moves the amount to
the payment's day), deletes; a raw write that skips them is found by ``audit_ledger``
(``rollup_mismatch``) and repaired by ``manage.py rebuild_rollups``."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from billing.services import account_credit, account_get_or_create
from orders.purchase.renewal import renewal_run
from orders.purchase.services import purchase_order_create
from plans.models import BillingMode, Cycle
from tests.orders.purchase.helpers import local, make_plan
from usage import rollups
from usage.audit import ledger_audit
from usage.models import RollupGrain, UsageRecord, UsageRollup
from usage.services import arrears_settle

pytestmark = pytest.mark.django_db


def funded(namespace: str, amount: str):
    account = account_get_or_create(namespace=namespace)
    account_credit(
        account_id=account.pk,
        amount=Decimal(amount),
        idempotency_key=f"fund:{namespace}",
        subject=("t", namespace),
    )
    return account


def bucket_sums(**filters) -> dict[tuple[str, str], tuple[Decimal, int]]:
    """(grain, status) -> (money, records) of the rollups matching ``filters``."""
    out: dict[tuple[str, str], tuple[Decimal, int]] = {}
    for r in UsageRollup.objects.filter(**filters):
        money, n = out.get((r.grain, r.status), (Decimal(0), 0))
        out[(r.grain, r.status)] = (money + rollups.money(r.amount_units), n + r.records)
    return {k: v for k, v in out.items() if v != (Decimal(0), 0)}


def arrears(account, amount: str, hour: int) -> UsageRecord:
    start = local(2026, 3, 10) + timedelta(hours=hour)
    return UsageRecord.objects.create(
        account=account,
        source="package",
        order_ref="P-1",
        line_id=10_000 + hour,
        period_key=f"p:{hour}",
        period_start=start,
        period_end=start + timedelta(hours=1),
        unit_price=Decimal(amount),
        amount=Decimal(amount),
        kind="usage",
        status="arrears",
    )


def test_orders_renewals_and_hourly_lines_are_rolled_up_bucket_for_bucket(user):
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
    renewal_run(at=local(2026, 3, 31), chunk_size=10)  # the set-based batch path
    assert UsageRecord.objects.filter(kind="renew").count() == 2
    assert rollups.drift() == {}
    assert ledger_audit() == []
    paid = UsageRecord.objects.filter(account=alice, status="paid")
    money = sum((r.amount for r in paid), Decimal(0))
    assert bucket_sums(account=alice) == {
        ("d", "paid"): (money, paid.count()),
        ("m", "paid"): (money, paid.count()),
    }


def test_arrears_paid_later_move_to_the_day_of_the_payment():
    acme = account_get_or_create(namespace="acme")
    first, second = arrears(acme, "3.5", 0), arrears(acme, "1.25", 1)
    assert bucket_sums(account=acme) == {
        ("d", "arrears"): (Decimal("4.75"), 2),
        ("m", "arrears"): (Decimal("4.75"), 2),
    }
    account_credit(account_id=acme.pk, amount=Decimal("4"), idempotency_key="pay", subject=("t", "acme"))
    arrears_settle(account_id=acme.pk, at=local(2026, 4, 2))  # pays the first only (4 < 4.75)
    first.refresh_from_db()
    paid_day = first.ledger_entry.created_at.astimezone(local(2026, 1, 1).tzinfo)  # any aware tz
    assert first.status == "paid" and second.status == "arrears"
    assert bucket_sums(account=acme, status="arrears") == {
        ("d", "arrears"): (Decimal("1.25"), 1),
        ("m", "arrears"): (Decimal("1.25"), 1),
    }
    assert rollups.drift() == {} and ledger_audit() == []
    assert paid_day  # the entry's moment decides the bucket (drift() recomputes it from the entry)


def test_update_save_and_delete_keep_the_buckets():
    acme = account_get_or_create(namespace="acme")
    a, b = arrears(acme, "2", 0), arrears(acme, "5", 1)
    UsageRecord.objects.filter(pk=a.pk).update(amount=Decimal("2.5"), status="canceled")
    b.region = "cn-east-1"
    b.save()
    assert rollups.drift() == {}
    assert bucket_sums(account=acme, grain=RollupGrain.MONTH) == {
        ("m", "canceled"): (Decimal("2.5"), 1),
        ("m", "arrears"): (Decimal("5"), 1),
    }
    UsageRecord.objects.filter(pk=a.pk).delete()
    b.delete()
    assert bucket_sums(account=acme) == {} and rollups.drift() == {}


def test_a_failed_transaction_takes_its_rollups_with_it():
    acme = account_get_or_create(namespace="acme")
    with pytest.raises(RuntimeError), transaction.atomic():
        arrears(acme, "9", 0)
        raise RuntimeError("rolled back")
    assert bucket_sums(account=acme) == {} and rollups.drift() == {}


def test_a_raw_write_is_found_by_the_audit_and_repaired_by_rebuild_rollups():
    acme = account_get_or_create(namespace="acme")
    rec, other = arrears(acme, "2", 0), arrears(acme, "7", 1)
    UsageRecord.objects.filter(pk=rec.pk).update(created_at=local(2026, 3, 10, 12))  # billed 10 March
    UsageRecord.objects.filter(pk=other.pk).update(created_at=local(2026, 4, 3))  # April: left alone
    assert rollups.drift() == {}
    with connection.cursor() as cursor:  # a writer that forgets usage.rollups
        cursor.execute("UPDATE usage_usagerecord SET amount = 3 WHERE id = %s", [rec.pk])
    findings = ledger_audit()
    assert {(f.check, f.object_id) for f in findings} == {("rollup_mismatch", str(acme.pk))}
    assert len(findings) == 2  # the day and the month rollups
    assert "rebuild_rollups" in findings[0].detail and findings[0].namespace == "acme"
    april = UsageRollup.objects.filter(day__gte=date(2026, 4, 1)).values_list("pk", "amount_units")
    before = set(april)
    out = io.StringIO()
    call_command("rebuild_rollups", "--from", "2026-03-10", "--to", "2026-03-10", stdout=out)
    assert "rebuilt 1 day bucket(s)" in out.getvalue()
    assert ledger_audit() == [] and rollups.drift() == {}
    assert set(april) == before  # April's rows were not rewritten
    call_command("rebuild_rollups", stdout=io.StringIO())  # everything, idempotent
    assert rollups.drift() == {} and bucket_sums(account=acme)[("m", "arrears")] == (Decimal("10"), 2)


def test_the_audit_finds_rollups_whose_records_are_gone_and_only_the_differing_groups():
    acme, other = account_get_or_create(namespace="acme"), account_get_or_create(namespace="other")
    rec = arrears(acme, "2.5", 0)
    arrears(other, "4", 1)
    with connection.cursor() as cursor:  # a raw delete: acme's rollups outlive its only record
        cursor.execute("DELETE FROM usage_usagerecord WHERE id = %s", [rec.pk])
    findings = ledger_audit()
    assert sorted((f.check, f.object_id, f.actual, f.expected) for f in findings) == [
        ("rollup_mismatch", str(acme.pk), "1 record(s), 25000 units, discount 0 units", want)
        for want in ["0 record(s), 0 units, discount 0 units"] * 2  # the day and the month rollups
    ]
    call_command("rebuild_rollups", stdout=io.StringIO())
    assert ledger_audit() == [] and bucket_sums(account=other)[("m", "arrears")] == (Decimal("4"), 1)


def test_bulk_create_with_conflicts_is_refused():
    acme = account_get_or_create(namespace="acme")
    rec = arrears(acme, "1", 0)
    rec.pk, rec.line_id = None, 1
    with pytest.raises(NotImplementedError):
        UsageRecord.objects.bulk_create([rec], ignore_conflicts=True)


def test_the_bulk_insert_helpers_roll_up_or_refuse():
    from config.bulk import rows_update
    from config.bulk_insert import rows_insert, values_insert

    acme = account_get_or_create(namespace="acme")
    rec = arrears(acme, "1", 0)
    copy = UsageRecord(**{f.attname: getattr(rec, f.attname) for f in UsageRecord._meta.concrete_fields})
    copy.pk, copy.line_id, copy.created_at = None, 77, None
    with transaction.atomic():
        rows_insert([copy])  # the renewal chunk's insert: rolled up through the model's hook
    assert rollups.drift() == {} and bucket_sums(account=acme)[("d", "arrears")] == (Decimal("2"), 2)
    with pytest.raises(TypeError):
        rows_update([rec], ["amount"])
    with pytest.raises(TypeError):
        values_insert(UsageRecord, ["line_id"], [[5]])
