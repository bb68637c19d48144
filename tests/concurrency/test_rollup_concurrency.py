"""Writers racing on one account and one day, on MariaDB (real threads, real row locks): the
rollups' upsert adds every delta atomically, so none is lost (issue 21 B3)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from billing.services import account_get_or_create
from config.db import retry_on_conflict
from tests.concurrency.test_billing_concurrency import run_threads
from tests.conftest import mariadb_only
from usage import rollups
from usage.audit import ledger_audit
from usage.models import UsageRecord, UsageRollup

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]
THREADS = 8
EACH = 10


def record(account_id: int, i: int, j: int, status: str) -> UsageRecord:
    start = timezone.now() - timedelta(hours=1)
    return UsageRecord(
        account_id=account_id,
        source="package",
        order_ref="P-race",
        line_id=i * 1000 + j,
        period_key=f"p:{status}",
        period_start=start,
        period_end=start + timedelta(hours=1),
        unit_price=Decimal("0.0101"),
        amount=Decimal("0.0101") * (j + 1),
        kind="usage",
        status=status,
        paid_at=timezone.now() if status == "paid" else None,
    )


def test_threads_writing_one_account_and_day_lose_no_delta() -> None:
    account = account_get_or_create(namespace="race")
    errors: list[BaseException] = []
    lock = threading.Lock()

    # Retried as the money services are (config.db): three writers inserting one new rollup key at
    # once can deadlock on InnoDB's duplicate-key locks; a victim is rolled back whole, rollups too.
    @retry_on_conflict
    def insert(i: int, j: int) -> None:
        with transaction.atomic():
            record(account.pk, i, j, "arrears").save()

    @retry_on_conflict
    def batch(i: int) -> None:
        with transaction.atomic():
            UsageRecord.objects.bulk_create([record(account.pk, i, j, "paid") for j in range(EACH)])

    @retry_on_conflict
    def cancel(i: int) -> None:  # a status change moves amounts between buckets of the same rows
        with transaction.atomic():
            mine = UsageRecord.objects.filter(line_id__gte=i * 1000, line_id__lt=i * 1000 + EACH // 2)
            mine.filter(status="arrears").update(status="canceled")

    def worker(i: int) -> None:
        try:
            for j in range(EACH):  # one insert per transaction, racing on the same rollup rows
                insert(i, j)
            batch(i)
            cancel(i)
        except Exception as exc:  # noqa: BLE001 - any error is a failure
            with lock:
                errors.append(exc)

    run_threads(THREADS, worker)
    assert errors == []
    assert UsageRecord.objects.filter(account=account).count() == THREADS * EACH * 2
    assert rollups.drift() == {}
    assert [f for f in ledger_audit() if f.check == "rollup_mismatch"] == []
    day = UsageRollup.objects.filter(account=account, grain="d")
    by_status = {r.status: r.records for r in day if r.records}
    assert by_status == {
        "arrears": THREADS * EACH // 2,
        "canceled": THREADS * EACH // 2,
        "paid": THREADS * EACH,
    }
