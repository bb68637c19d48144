"""QUALITY.md R1 and R2 on MariaDB: real threads, real row locks, separate connections."""

from __future__ import annotations

import json
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import OperationalError, connection
from django.test import Client

from billing.models import Account, LedgerEntry, QuotaUsage
from billing.quota import quota_deduct
from billing.recharges import recharge_create
from billing.services import account_charge, account_credit, account_get_or_create
from billing.signature import sign
from config.exceptions import InsufficientFunds
from plans.models import MeteredService
from tests.conftest import mariadb_only

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def ledger_sum(account_id: int) -> Decimal:
    return sum(
        LedgerEntry.objects.filter(account_id=account_id).values_list("amount", flat=True), Decimal("0")
    )


def run_threads(n: int, target) -> None:
    barrier = threading.Barrier(n)

    def wrapped(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)


def test_r1_32_threads_x_50_charges_on_one_account():
    account = account_get_or_create(namespace="r1")
    account_credit(account_id=account.pk, amount=Decimal("700"), idempotency_key="seed")
    outcomes: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(50):
            try:
                account_charge(account_id=account.pk, amount=Decimal("0.5"), idempotency_key=f"c-{i}-{j}")
                result = "ok"
            except InsufficientFunds:
                result = "short"
            except OperationalError as exc:  # a deadlock or lock timeout reaching the caller is a failure
                with lock:
                    errors.append(exc)
                result = "error"
            with lock:
                outcomes[result] += 1

    run_threads(32, worker)
    account.refresh_from_db()
    assert errors == []
    assert outcomes["ok"] + outcomes["short"] == 32 * 50
    assert outcomes["ok"] == 1400  # 700 / 0.5: exactly what the balance affords
    assert account.balance == Decimal("0") == ledger_sum(account.pk)
    charges = LedgerEntry.objects.filter(account=account, kind="charge")
    assert charges.count() == outcomes["ok"]
    assert -sum(charges.values_list("amount", flat=True)) == Decimal("0.5") * outcomes["ok"]


def test_r2_same_callback_50_times_plus_tampered_copy(settings):
    settings.PAYMENT_CALLBACK_SECRET = "r2-secret"
    settings.TALLY_CURRENCY = "CNY"
    account = account_get_or_create(namespace="r2")
    order = recharge_create(account=account, amount="88.80", currency="CNY", payment_method="sandbox")
    body = json.dumps(
        {"recharge_order_id": order.public_id, "payment_id": "P-R2", "amount": "88.80", "status": "SUCCESS"}
    ).encode()
    header = sign(body)
    tampered = body.replace(b"88.80", b"888.80")
    statuses: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        client = Client()
        payload = tampered if i == 50 else body
        r = client.post(
            "/internal/v1/billing/callback",
            data=payload,
            content_type="application/json",
            HTTP_X_TALLY_SIGNATURE=header,
        )
        with lock:
            statuses.append(("tampered" if i == 50 else "genuine", r.status_code, r.json()["code"]))

    run_threads(51, worker)
    genuine = [s for s in statuses if s[0] == "genuine"]
    assert len(genuine) == 50 and all(code == 200 and c == 0 for _, code, c in genuine)
    assert [s for s in statuses if s[0] == "tampered"] == [("tampered", 401, 190303)]
    order.refresh_from_db()
    account.refresh_from_db()
    assert order.status == "success"
    assert LedgerEntry.objects.filter(account=account, kind="recharge").count() == 1
    assert account.balance == Decimal("88.80") == ledger_sum(account.pk)


def test_concurrent_quota_deductions_with_duplicate_request_ids():
    # transaction=True tests flush the tables, including the services seeded by the migration
    MeteredService.objects.update_or_create(
        service="payment", defaults={"unit_price": Decimal("0.1"), "monthly_free_quota": 1000, "active": True}
    )
    account = account_get_or_create(namespace="q1")
    account_credit(account_id=account.pk, amount=Decimal("10"), idempotency_key="seed")
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(20):
            try:
                # every request id is sent by two threads at once
                quota_deduct(account_id=account.pk, service="payment", count=5, request_id=f"r-{i // 2}-{j}")
            except InsufficientFunds:
                pass
            except OperationalError as exc:
                with lock:
                    errors.append(exc)

    run_threads(32, worker)
    assert errors == []
    usages = QuotaUsage.objects.filter(account=account)
    # 320 distinct request ids: 200 x 5 calls fit the free quota, then 10.00 pays 20 x 5 x 0.10
    assert usages.count() == 220
    assert usages.values("request_id").distinct().count() == 220
    assert sum(u.free_count for u in usages) == 1000  # the free quota used exactly once
    paid = sum(u.paid_count for u in usages)
    account.refresh_from_db()
    assert paid == 100
    assert account.balance == Decimal("0") == ledger_sum(account.pk)
    assert Account.objects.get(pk=account.pk).quotas.get().used == 1000
