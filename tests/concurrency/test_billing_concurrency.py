"""R1 and R2 (docs/reliability.md) on MariaDB: real threads, real row locks, separate connections."""

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
from billing.selectors import account_record_counts
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
    # the records list's counts stayed exact under the race (free and paid usages, replays)
    assert account_record_counts(account=account) == (1 + 20, 220)
    assert LedgerEntry.objects.filter(account=account).count() == 21


def _metered_payment() -> MeteredService:
    # transaction=True tests flush the tables, including the services seeded by the migration; the
    # save() clears this process's service cache, which may still hold a flushed row
    svc, _ = MeteredService.objects.update_or_create(
        service="payment", defaults={"unit_price": Decimal("0.1"), "monthly_free_quota": 1000, "active": True}
    )
    return svc


def test_deduct_by_namespace_32_threads_replays_answer_the_first_result():
    """The API's path (lock by namespace, no replay lookup up front): every request id is sent by
    two threads at once, the balance runs out half way, and the free quota is used first."""
    _metered_payment()
    account = account_get_or_create(namespace="q2")
    account_credit(account_id=account.pk, amount=Decimal("5"), idempotency_key="seed")
    answers: dict[str, list[tuple[str, int | None, bool]]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        for j in range(20):
            rid = f"r-{i // 2}-{j}"
            try:
                d = quota_deduct(namespace="q2", service="payment", count=5, request_id=rid)
                answer = ("ok", d.usage.pk, d.replayed)
            except InsufficientFunds:
                answer = ("short", None, False)
            except Exception as exc:  # noqa: BLE001 - any other error reaching a caller is a failure
                with lock:
                    errors.append(exc)
                continue
            with lock:
                answers.setdefault(rid, []).append(answer)

    run_threads(32, worker)
    assert errors == []
    assert len(answers) == 320 and all(len(a) == 2 for a in answers.values())
    for rid, pair in answers.items():
        kinds = {a[0] for a in pair}
        assert len(kinds) == 1, (rid, pair)  # both copies got the same outcome
        if kinds == {"ok"}:
            assert pair[0][1] == pair[1][1], (rid, pair)  # the same usage row
            assert sorted(a[2] for a in pair) == [False, True], (rid, pair)  # one first, one replay
    usages = QuotaUsage.objects.filter(account=account)
    ok = [rid for rid, pair in answers.items() if pair[0][0] == "ok"]
    # 200 request ids x 5 calls use the free quota; 5.00 pays 10 more x 5 x 0.10
    assert usages.count() == len(ok) == 210
    assert sum(u.free_count for u in usages) == 1000
    assert sum(u.paid_count for u in usages) == 50
    charges = LedgerEntry.objects.filter(account=account, kind="charge")
    assert charges.count() == usages.filter(paid_count__gt=0).count() == 10
    account.refresh_from_db()
    assert account.balance == Decimal("0") == ledger_sum(account.pk)


def test_deduct_quota_api_and_plain_charges_on_one_account_concurrently():
    """deduct-quota through the Django stack (token auth, cached permission, threads sharing the
    process caches) racing with plain ``account_charge`` calls on the same account lock."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from rest_framework.authtoken.models import Token

    _metered_payment()
    ContentType.objects.clear_cache()
    perm, _ = Permission.objects.get_or_create(
        codename="use_internal_api",
        content_type=ContentType.objects.get_for_model(Account),
        defaults={"name": "Can call the internal billing API"},
    )
    svc_user = get_user_model().objects.create_user(username="metering", password="x")
    svc_user.user_permissions.add(perm)
    token = Token.objects.create(user=svc_user).key
    account = account_get_or_create(namespace="q3")
    account_credit(account_id=account.pk, amount=Decimal("20"), idempotency_key="seed")
    quota_deduct(namespace="q3", service="payment", count=1000, request_id="all-free")
    statuses: Counter[tuple[int, int]] = Counter()
    charged: Counter[str] = Counter()
    bodies: dict[str, list[dict]] = {}
    lock = threading.Lock()

    def worker(i: int) -> None:
        if i >= 16:  # plain charges: 0.50 each
            for j in range(10):
                try:
                    account_charge(account_id=account.pk, amount=Decimal("0.5"), idempotency_key=f"c-{i}-{j}")
                    result = "ok"
                except InsufficientFunds:
                    result = "short"
                with lock:
                    charged[result] += 1
            return
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        for j in range(15):  # paid calls of 0.30; request ids sent by two threads each
            rid = f"api-{i // 2}-{j}"
            r = client.post(
                "/internal/v1/billing/deduct-quota",
                data=json.dumps({"namespace": "q3", "service": "payment", "count": 3, "request_id": rid}),
                content_type="application/json",
            )
            payload = r.json()
            with lock:
                statuses[(r.status_code, payload["code"])] += 1
                if r.status_code == 200:
                    bodies.setdefault(rid, []).append(payload["data"])

    run_threads(24, worker)
    assert set(statuses) <= {(200, 0), (400, 190102)}, statuses
    assert sum(statuses.values()) == 16 * 15 and sum(charged.values()) == 8 * 10
    for rid, answers in bodies.items():
        firsts = [a for a in answers if not a["replayed"]]
        assert len(firsts) == 1, (rid, answers)
        assert all({**a, "replayed": False} == firsts[0] for a in answers), (rid, answers)
    usages = QuotaUsage.objects.filter(account=account, paid_count__gt=0)
    assert usages.count() == len(bodies)
    quota_charges = LedgerEntry.objects.filter(account=account, kind="charge", subject_type="quota_request")
    plain = LedgerEntry.objects.filter(account=account, kind="charge").exclude(subject_type="quota_request")
    assert quota_charges.count() == usages.count() and plain.count() == charged["ok"]
    moved = Decimal("0.3") * usages.count() + Decimal("0.5") * charged["ok"]
    account.refresh_from_db()
    assert account.balance == Decimal("20") - moved == ledger_sum(account.pk)
    assert account.balance >= 0
    assert statuses[(400, 190102)] + charged["short"] > 0  # demand (76.00) exceeded the 20.00
