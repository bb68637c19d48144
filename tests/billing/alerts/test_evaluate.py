"""The evaluator (``billing.evaluate_balance_alerts``): once per crossing, re-armed on recovery,
set-based in chunks, notifications by task name on commit and signed on delivery."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.alerts.models import AlertState
from billing.alerts.services import alert_thresholds_set
from billing.services import account_charge, account_credit
from tests.billing.alerts.conftest import payloads
from tests.billing.factories import funded_account

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _defaults(settings):
    settings.BALANCE_ALERT_BELOW = D("0")
    settings.RUNWAY_ALERT_DAYS = 7


def test_a_runway_under_the_default_is_notified_once_per_crossing(burn, sent, evaluate):
    acme = funded_account("acme", "100")
    burn[acme.pk] = D("20")  # 5 days left < 7
    first = evaluate()
    assert first.as_dict()["runway_low_sent"] == 1
    [p] = payloads(sent)
    assert p["event"] == "runway_low" and p["subject"] == "acme"
    assert p["account"] == {
        "namespace": "acme",
        "currency": acme.currency,
        "balance": "100.0000",
        "burn_per_day": "20.0000",
        "runway_days": "5.00",
    }
    assert (p["threshold"], p["crossing"]) == ({"runway_below_days": 7}, 1)
    # still under: nothing more, however often beat runs
    evaluate()
    evaluate()
    assert len(payloads(sent)) == 1
    state = AlertState.objects.get(account=acme, kind="runway_low")
    assert state.fired_at is not None and state.crossings == 1 and state.runway_days == D("5.00")


def test_recovery_re_arms_and_the_next_crossing_notifies_again(burn, sent, evaluate):
    acme = funded_account("acme", "100")
    burn[acme.pk] = D("20")
    evaluate()
    account_credit(account_id=acme.pk, amount=D("100"), idempotency_key="top-up")  # 10 days
    assert evaluate().rearmed == 1
    state = AlertState.objects.get(account=acme, kind="runway_low")
    assert state.fired_at is None and state.rearmed_at is not None
    assert len(payloads(sent)) == 1
    account_charge(account_id=acme.pk, amount=D("90"), idempotency_key="spend")  # 110 left: 5.5 days
    evaluate()
    second = payloads(sent)
    assert [p["crossing"] for p in second] == [1, 2]
    assert second[1]["account"]["runway_days"] == "5.50"
    assert AlertState.objects.get(account=acme, kind="runway_low").crossings == 2


def test_balance_below_an_own_threshold(burn, sent, evaluate):
    acme = funded_account("acme", "80")
    funded_account("other", "80")  # default balance alert is off: never notified
    alert_thresholds_set(account=acme, balance_below=D("100"), runway_below_days=0)
    evaluate()
    [p] = payloads(sent)
    assert (p["event"], p["subject"], p["threshold"]) == (
        "balance_low",
        "acme",
        {"balance_below": "100.0000"},
    )
    assert p["account"]["runway_days"] is None  # nothing burns
    assert not AlertState.objects.filter(account__namespace="other").exists()


def test_both_alerts_at_once_and_switching_one_off_re_arms_it(burn, sent, evaluate):
    acme = funded_account("acme", "10")
    burn[acme.pk] = D("5")
    alert_thresholds_set(account=acme, balance_below=D("20"))
    evaluate()
    assert sorted(p["event"] for p in payloads(sent)) == ["balance_low", "runway_low"]
    alert_thresholds_set(account=acme, runway_below_days=0)
    assert evaluate().rearmed == 1
    fired = dict(AlertState.objects.filter(account=acme).values_list("kind", "fired_at"))
    assert fired["balance_low"] is not None and fired["runway_low"] is None


def test_notifications_are_sent_on_commit_only(burn, sent):
    from django.db import transaction

    from billing.alerts.services import balance_alerts_evaluate

    acme = funded_account("acme", "1")
    burn[acme.pk] = D("1")
    with transaction.atomic():
        balance_alerts_evaluate()
        assert sent == []
        transaction.set_rollback(True)
    assert sent == [] and not AlertState.objects.filter(fired_at__isnull=False).exists()


def test_chunks_are_set_based(burn, sent, evaluate, settings):
    """Statements per chunk do not grow with the accounts in it: a chunk of 3 and a chunk of 30."""
    accounts = [funded_account(f"a{i}", "10") for i in range(30)]
    for a in accounts:
        burn[a.pk] = D("5")

    def statements(chunk: int) -> int:
        AlertState.objects.all().delete()
        with CaptureQueriesContext(connection) as ctx:
            evaluate(chunk_size=chunk)
        return len(ctx.captured_queries)

    few, many = statements(30), statements(3)
    assert len(payloads(sent)) == 60
    assert many == pytest.approx(few * 10, rel=0.2)  # 10 chunks of 3 cost what 10 chunks cost
    assert few < 20


def test_the_delivery_is_signed_and_carries_the_event_id(burn, settings, monkeypatch, evaluate):
    """Through the real sender (``orders.notify_batch`` by name, eager here): the POST is signed
    with NOTIFY_SECRET over the exact body."""
    import hashlib
    import hmac
    import json

    settings.NOTIFY_URL = "http://hooks.invalid/tally"
    settings.NOTIFY_SECRET = "alert-receiver-secret"
    posted: list[tuple[bytes, dict[str, str]]] = []

    class Ok:
        def raise_for_status(self) -> None:
            return None

    def fake_post(url, data, headers, timeout):
        posted.append((data, headers))
        return Ok()

    monkeypatch.setattr("orders.purchase.notify.requests.post", fake_post)
    acme = funded_account("acme", "10")
    burn[acme.pk] = D("5")
    evaluate()
    [(body, headers)] = posted
    parts = dict(p.split("=", 1) for p in headers["X-Tally-Signature"].split(","))
    expected = hmac.new(
        b"alert-receiver-secret", f"{parts['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    event = json.loads(body)
    assert event["event"] == "runway_low" and event["id"] == headers["X-Tally-Event-Id"]
