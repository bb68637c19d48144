"""Evaluators racing on MariaDB (real threads and connections): each crossing is notified once.

Beat runs one evaluator, but a slow run can overlap the next, and ``run_billing --only
balance_alerts`` can run beside beat. The burn provider here holds every evaluator until all have
read their chunk, so they all decide "under" from the same figures and race for the state rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection

from billing.alerts import hooks
from billing.alerts.models import AlertState
from billing.alerts.services import balance_alerts_evaluate
from tests.billing.alerts.conftest import payloads
from tests.billing.factories import funded_account
from tests.conftest import mariadb_only

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]
D = Decimal


def race(n: int, target) -> list[BaseException]:
    errors: list[BaseException] = []

    def wrapped() -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted empty below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    return errors


def held_provider(parties: int, rate: Decimal, monkeypatch):
    gate = threading.Barrier(parties, timeout=30)
    first_chunk = threading.local()

    def provider(account_ids, at):
        if not getattr(first_chunk, "done", False):  # each evaluator waits once, on its first chunk
            first_chunk.done = True
            gate.wait()
        return {pk: rate for pk in account_ids}

    monkeypatch.setattr(hooks, "_provider", [provider])


def test_two_evaluators_at_once_send_each_crossing_once(settings, sent, monkeypatch):
    settings.BALANCE_ALERT_BELOW = D("50")
    settings.RUNWAY_ALERT_DAYS = 7
    acme = funded_account("acme", "10")  # balance 10 < 50 and 10 / 5 = 2 days < 7
    held_provider(2, D("5"), monkeypatch)
    errors = race(2, lambda: balance_alerts_evaluate(chunk_size=50))
    assert errors == []
    sent_events = sorted((p["event"], p["subject"]) for p in payloads(sent))
    assert sent_events == [("balance_low", "acme"), ("runway_low", "acme")]
    states = AlertState.objects.filter(account=acme)
    assert sorted(states.values_list("kind", "crossings")) == [("balance_low", 1), ("runway_low", 1)]
    assert all(s.fired_at is not None for s in states)


def test_four_evaluators_over_many_chunks(settings, sent, monkeypatch):
    settings.BALANCE_ALERT_BELOW = D("0")
    settings.RUNWAY_ALERT_DAYS = 7
    accounts = [funded_account(f"acct{i:02d}", "10") for i in range(40)]
    held_provider(4, D("5"), monkeypatch)
    errors = race(4, lambda: balance_alerts_evaluate(chunk_size=7))
    assert errors == []
    per_account = Counter(p["subject"] for p in payloads(sent))
    assert per_account == Counter({a.namespace: 1 for a in accounts})
    assert set(AlertState.objects.values_list("crossings", flat=True)) == {1}
    assert AlertState.objects.filter(fired_at__isnull=False).count() == 40
