"""Batch deductions racing each other and single deductions on one account, on MariaDB: real
threads, real row locks. Every request id has one usage row and one answer; no overdraft."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from billing.models import LedgerEntry, QuotaUsage
from billing.quota import quota_deduct
from billing.quota_batch import DeductItem, quota_deduct_batch
from billing.selectors import account_record_counts
from billing.services import account_credit, account_get_or_create
from config.exceptions import InsufficientFunds
from plans.models import MeteredService
from tests.concurrency.test_billing_concurrency import ledger_sum, run_threads
from tests.conftest import mariadb_only

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def test_batches_and_single_deductions_race_on_one_account() -> None:
    MeteredService.objects.update_or_create(
        service="payment", defaults={"unit_price": Decimal("0.1"), "monthly_free_quota": 1000, "active": True}
    )
    account = account_get_or_create(namespace="qb")
    account_credit(account_id=account.pk, amount=Decimal("6"), idempotency_key="seed")
    quota_deduct(namespace="qb", service="payment", count=1000, request_id="all-free")
    answers: dict[str, list[tuple[str, int | None, bool]]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def record(rid: str, answer: tuple[str, int | None, bool]) -> None:
        with lock:
            answers.setdefault(rid, []).append(answer)

    def worker(i: int) -> None:
        try:
            if i < 8:  # batches of 10 paid calls of 0.30; each request id sent by two threads
                for j in range(4):
                    items = [DeductItem("qb", "payment", 3, f"b-{i // 2}-{j}-{k}") for k in range(10)]
                    for item, res in zip(items, quota_deduct_batch(items=items), strict=True):
                        if res.deduction is not None:
                            record(item.request_id, ("ok", res.deduction.usage.pk, res.deduction.replayed))
                        else:
                            assert isinstance(res.error, InsufficientFunds), res.error
                            record(item.request_id, ("short", None, False))
                return
            for j in range(20):  # single deductions of 0.30, each request id sent by two threads
                rid = f"s-{i // 2}-{j}"
                try:
                    d = quota_deduct(namespace="qb", service="payment", count=3, request_id=rid)
                    record(rid, ("ok", d.usage.pk, d.replayed))
                except InsufficientFunds:
                    record(rid, ("short", None, False))
        except Exception as exc:  # noqa: BLE001 - any error reaching a caller is a failure
            with lock:
                errors.append(exc)

    run_threads(16, worker)
    assert errors == []
    assert len(answers) == 4 * 4 * 10 + 4 * 20 and all(len(a) == 2 for a in answers.values())
    ok = 0
    for rid, pair in answers.items():
        oks = [a for a in pair if a[0] == "ok"]
        if oks:
            ok += 1
            # a repeat that came after the first may only be its replay (same usage row)
            assert len({a[1] for a in oks}) == 1 and sorted(a[2] for a in oks)[0] is False, (rid, pair)
            assert sum(1 for a in oks if not a[2]) == 1, (rid, pair)
    usages = QuotaUsage.objects.filter(account=account, paid_count__gt=0)
    assert usages.count() == ok == 20  # 6.00 pays exactly 20 deductions of 0.30
    assert LedgerEntry.objects.filter(account=account, subject_type="quota_request").count() == 20
    account.refresh_from_db()
    assert account.balance == Decimal("0") == ledger_sum(account.pk)
    # the records list's counts stayed exact: batches and single calls, replays, refusals
    entries = LedgerEntry.objects.filter(account=account).count()
    usages = QuotaUsage.objects.filter(account=account).count()
    assert account_record_counts(account=account) == (entries, usages) and entries == 1 + 20
