from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Account, IdempotencyKey, LedgerEntry
from billing.tasks import purge_idempotency_keys
from tests.conftest import mariadb_only

pytestmark = pytest.mark.urls("tests.config.urls_for_tests")
BODY = {"amount": "10.00", "reference": "abc", "count": 1}


@pytest.mark.django_db
def test_replay_returns_first_response_and_moves_no_money(api):
    first = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    second = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert LedgerEntry.objects.count() == 1
    assert Account.objects.get(namespace="alice").balance == Decimal("10")


@pytest.mark.django_db
def test_same_key_different_body_is_409_3320(api):
    api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    r = api.post("/api/test/topup", {**BODY, "amount": "11"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 409
    assert r.json()["code"] == 3320
    assert LedgerEntry.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_user(api, make_user, client_for):
    api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    other = client_for(make_user("bob"))
    r = other.post("/api/test/topup", {**BODY, "reference": "xyz"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 201
    assert IdempotencyKey.objects.count() == 2


@pytest.mark.django_db
def test_error_responses_are_replayed_too(api):
    bad = {**BODY, "count": 0}
    a = api.post("/api/test/topup", bad, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    b = api.post("/api/test/topup", bad, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert a.status_code == b.status_code == 400
    assert a.json() == b.json()


@pytest.mark.django_db
def test_overlong_key_is_rejected(api):
    r = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="x" * 256)
    assert r.status_code == 400 and r.json()["code"] == 3307
    assert LedgerEntry.objects.count() == 0


@pytest.mark.django_db
def test_expired_keys_are_purged(api, settings):
    api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    from datetime import timedelta

    from django.utils import timezone

    IdempotencyKey.objects.update(
        created_at=timezone.now() - settings.IDEMPOTENCY_KEY_TTL - timedelta(minutes=1)
    )
    assert purge_idempotency_keys() == 1
    assert IdempotencyKey.objects.count() == 0


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_have_one_effect(user, client_for):
    clients = [client_for(user) for _ in range(12)]
    barrier = threading.Barrier(len(clients))
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def hit(c):
        barrier.wait()
        try:
            r = c.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="same-key")
            with lock:
                results.append((r.status_code, r.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=hit, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 12
    assert {status for status, _ in results} == {201}
    assert len({str(body) for _, body in results}) == 1
    assert LedgerEntry.objects.count() == 1
    assert Account.objects.get(namespace="alice").balance == Decimal("10")
