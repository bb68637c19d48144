"""Issue 14.5: an ``Idempotency-Key`` left ``running`` by a dead process never stays stuck.

A running key is leased (``IDEMPOTENCY_LEASE_SECONDS``); once the lease has expired, a retry with
the same request takes the key over (one conditional UPDATE: one taker) and does the work once.
On MariaDB a real process is SIGKILLed mid-request (before and after its ledger credit committed)
and concurrent retries race for the takeover: exactly one ledger entry, one balance, one answer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from billing.models import Account, IdempotencyKey, LedgerEntry
from config.money_sql import money_sum
from tests.conftest import mariadb_only

pytestmark = pytest.mark.urls("tests.config.urls_for_tests")
ROOT = Path(__file__).resolve().parents[2]
BODY = {"amount": "10.00", "reference": "lease", "count": 1}


def expire_leases() -> None:
    IdempotencyKey.objects.update(lease_until=timezone.now() - timedelta(seconds=1))


def alice_balance() -> Decimal:
    return Account.objects.get(namespace="alice").balance


@pytest.mark.django_db
def test_a_running_key_gets_a_lease_from_the_settings(api, settings):
    settings.IDEMPOTENCY_LEASE_SECONDS = 120
    before = timezone.now()
    api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    row = IdempotencyKey.objects.get()
    assert row.state == IdempotencyKey.State.DONE and row.attempt == 1
    assert before + timedelta(seconds=119) < row.lease_until < timezone.now() + timedelta(seconds=121)


@pytest.mark.django_db
def test_an_expired_running_key_is_taken_over_and_the_work_done_once(api):
    first = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    # As if the holder had died after creating its row: running, no stored answer, lease expired.
    IdempotencyKey.objects.update(state=IdempotencyKey.State.RUNNING, response_status=None, response_body="")
    LedgerEntry.objects.all().delete()
    Account.objects.update(balance=0)
    expire_leases()
    retry = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry
    assert retry.json()["data"]["balance"] == first.json()["data"]["balance"]
    row = IdempotencyKey.objects.get()
    assert (row.state, row.attempt, row.response_status) == (IdempotencyKey.State.DONE, 2, 201)
    assert LedgerEntry.objects.count() == 1 and alice_balance() == Decimal("10")
    again = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert again["Idempotent-Replayed"] == "true" and again.json() == retry.json()


@pytest.mark.django_db
def test_a_live_lease_is_not_taken_over(api, user, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.2
    IdempotencyKey.objects.create(
        user=user, key="k1", fingerprint=_fingerprint(api), lease_until=timezone.now() + timedelta(minutes=5)
    )
    r = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 409 and r.json()["code"] == 3321
    assert IdempotencyKey.objects.get().attempt == 1
    assert LedgerEntry.objects.count() == 0


@pytest.mark.django_db
def test_a_row_from_before_leases_expires_from_its_creation(api, user, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0.2
    row = IdempotencyKey.objects.create(user=user, key="k1", fingerprint=_fingerprint(api), lease_until=None)
    r = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 409 and r.json()["code"] == 3321  # created just now: still leased
    IdempotencyKey.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=1))
    r = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 201 and LedgerEntry.objects.count() == 1


@pytest.mark.django_db
def test_a_different_body_never_takes_over_an_expired_key(api, user):
    IdempotencyKey.objects.create(user=user, key="k1", fingerprint="0" * 64, lease_until=timezone.now())
    expire_leases()
    r = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 409 and r.json()["code"] == 3320
    assert IdempotencyKey.objects.get().attempt == 1 and LedgerEntry.objects.count() == 0


@pytest.mark.django_db
def test_a_holder_that_lost_its_lease_does_not_overwrite_the_takers_answer(api, monkeypatch):
    """The slow first holder finishes after a retry took its key over: the taker's answer stays."""
    from billing import idempotency

    real_handler_run = idempotency._run

    def run_then_lose(handler, view, request, args, kwargs, lease):
        pk, attempt = lease
        # Someone took over while we worked: attempt moved on and already stored its answer.
        IdempotencyKey.objects.filter(pk=pk).update(
            attempt=attempt + 1, state=IdempotencyKey.State.DONE, response_status=201, response_body="{}"
        )
        return real_handler_run(handler, view, request, args, kwargs, lease)

    monkeypatch.setattr(idempotency, "_run", run_then_lose)
    r = api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 201
    row = IdempotencyKey.objects.get()
    assert (row.attempt, row.response_body) == (2, "{}")


def _fingerprint(api: Any) -> str:
    """The fingerprint the test endpoint computes for BODY (taken from a real request)."""
    api.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="probe")
    probe = IdempotencyKey.objects.get(key="probe")
    fingerprint = probe.fingerprint
    probe.delete()
    LedgerEntry.objects.all().delete()
    Account.objects.update(balance=0)
    return fingerprint


# --- MariaDB: a real process killed mid-request, then racing retries -----------------------------


def db_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] or "root"
    if s["PASSWORD"]:
        auth += f":{s['PASSWORD']}"
    return f"mysql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{s['NAME']}"


def start_and_kill(token: str, hang: str, tmp_path: Path) -> None:
    """Send BODY from another OS process, wait until it hangs at ``hang``, SIGKILL it."""
    flag = tmp_path / f"hang-{hang}"
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": db_url(),
            "CELERY_BROKER_URL": "memory://",
            "TALLY_TESTING": "1",
            "PYTHONPATH": str(ROOT),
            "TOPUP_HANG": hang,
            "TOPUP_HANG_FLAG": str(flag),
            "IDEMPOTENCY_LEASE_SECONDS": "2",
        }
    )
    log = open(tmp_path / "worker.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.config.idempotent_request", token, "killed", json.dumps(BODY)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "the request never reached its hang point"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        log.close()
    assert proc.returncode == -signal.SIGKILL


def race_retries(user: Any, client_for: Any, n: int = 8) -> list[tuple[int, str, bool]]:
    clients = [client_for(user) for _ in range(n)]
    barrier = threading.Barrier(n)
    results: list[tuple[int, str, bool]] = []
    lock = threading.Lock()

    def hit(c: Any) -> None:
        barrier.wait()
        try:
            r = c.post("/api/test/topup", BODY, format="json", HTTP_IDEMPOTENCY_KEY="killed")
            with lock:
                results.append((r.status_code, json.dumps(r.json()["data"]), "Idempotent-Replayed" in r))
        finally:
            connection.close()

    threads = [threading.Thread(target=hit, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@mariadb_only
@pytest.mark.parametrize("hang", ["before", "after"])
@pytest.mark.django_db(transaction=True)
def test_sigkilled_request_then_racing_retries_have_exactly_one_effect(hang, user, client_for, tmp_path):
    token, _ = Token.objects.get_or_create(user=user)
    start_and_kill(token.key, hang, tmp_path)
    row = IdempotencyKey.objects.get(key="killed")
    assert row.state == IdempotencyKey.State.RUNNING and row.attempt == 1  # the dead holder's row
    assert LedgerEntry.objects.count() == (1 if hang == "after" else 0)
    while IdempotencyKey.objects.filter(key="killed", lease_until__gte=timezone.now()).exists():
        time.sleep(0.1)  # the subprocess leased it for 2 s
    results = race_retries(user, client_for)
    assert len(results) == 8
    assert {status for status, _, _ in results} == {201}
    assert len({body for _, body, _ in results}) == 1, results
    assert sum(1 for *_, replayed in results if not replayed) == 1  # one taker did the work
    row.refresh_from_db()
    assert (row.state, row.attempt, row.response_status) == (IdempotencyKey.State.DONE, 2, 201)
    account = Account.objects.get(namespace="alice")
    entries = LedgerEntry.objects.filter(account=account)
    assert entries.count() == 1
    assert account.balance == Decimal("10") == money_sum(entries, "amount")
