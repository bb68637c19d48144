"""Issue 14.3: throttling per user / per IP / internal, 429 in the envelope with Retry-After;
admin login lockout (django-axes) with records finance can read."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from billing.models import Account, LedgerEntry, QuotaUsage
from config.admin_tools import sync_finance_group
from tests.billing.factories import funded_account, grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def rates(settings):
    """Small rates, and a key prefix no other test (or earlier run on a shared Redis) used."""
    settings.TALLY_THROTTLE_KEY_PREFIX = uuid.uuid4().hex
    settings.TALLY_THROTTLE_RATES = {"user": "3/min", "anon": "2/min", "internal": "5/min"}
    return settings.TALLY_THROTTLE_RATES


def _assert_throttled(r):
    assert r.status_code == 429, r.content[:300]
    body = r.json()
    assert body["code"] == 3322 and body["msg"]
    assert int(r["Retry-After"]) >= 1


def test_authenticated_calls_are_throttled_per_user(rates, api, make_user, client_for):
    for _ in range(3):
        assert api.get("/api/v1/me").status_code == 200
    _assert_throttled(api.get("/api/v1/me"))
    # Another user has a counter of their own.
    assert client_for(make_user("bob")).get("/api/v1/me").status_code == 200


def test_anonymous_calls_are_throttled_per_ip(rates):
    a = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(2):
        assert a.get("/api/v1/me").status_code == 401
    _assert_throttled(a.get("/api/v1/me"))
    assert APIClient(REMOTE_ADDR="10.0.0.2").get("/api/v1/me").status_code == 401


def test_wrong_tokens_are_throttled_per_ip(rates, user, client_for):
    guesser = APIClient(REMOTE_ADDR="10.0.0.3")
    for i in range(2):
        guesser.credentials(HTTP_AUTHORIZATION=f"Token wrong{i}")
        assert guesser.get("/api/v1/me").json()["code"] == 3305
    guesser.credentials(HTTP_AUTHORIZATION="Token wrong-again")
    _assert_throttled(guesser.get("/api/v1/me"))


def test_internal_endpoints_have_their_own_higher_rate(rates, make_user, client_for):
    funded_account("acme", "100")
    svc = client_for(grant(make_user("metering"), "use_internal_api"))
    body = {"namespace": "acme", "service": "payment", "count": 1}
    for _ in range(5):  # above the user rate (3), within the internal one (5)
        assert svc.post("/internal/v1/billing/check-quota", body, format="json").status_code == 200
    _assert_throttled(svc.post("/internal/v1/billing/check-quota", body, format="json"))
    # The same user's public calls count separately.
    assert svc.get("/api/v1/me").status_code == 200


def test_a_throttled_write_changes_nothing(rates, make_user, client_for):
    acc = funded_account("acme", "100")
    svc = client_for(grant(make_user("metering"), "use_internal_api"))
    for i in range(5):
        body = {"namespace": "acme", "service": "payment", "count": 1, "request_id": f"r{i}"}
        assert svc.post("/internal/v1/billing/deduct-quota", body, format="json").status_code == 200
    before = LedgerEntry.objects.count(), QuotaUsage.objects.count(), Account.objects.get(pk=acc.pk).balance
    body = {"namespace": "acme", "service": "payment", "count": 1, "request_id": "r-over"}
    _assert_throttled(svc.post("/internal/v1/billing/deduct-quota", body, format="json"))
    after = LedgerEntry.objects.count(), QuotaUsage.objects.count(), Account.objects.get(pk=acc.pk).balance
    assert before == after


def test_rates_come_from_the_environment(monkeypatch):
    import importlib

    from config import settings as tally_settings

    monkeypatch.setenv("THROTTLE_RATE_USER", "7/s")
    monkeypatch.setenv("THROTTLE_RATE_INTERNAL", "9/hour")
    try:
        reloaded = importlib.reload(tally_settings)
        assert reloaded.TALLY_THROTTLE_RATES["user"] == "7/s"
        assert reloaded.TALLY_THROTTLE_RATES["internal"] == "9/hour"
    finally:
        monkeypatch.delenv("THROTTLE_RATE_USER")
        monkeypatch.delenv("THROTTLE_RATE_INTERNAL")
        importlib.reload(tally_settings)


def test_a_broken_cache_lets_requests_through(rates, api, monkeypatch):
    from config.api import throttling

    def boom(*a, **k):
        raise ConnectionError("cache down")

    monkeypatch.setattr(throttling, "_incr", boom)
    for _ in range(5):
        assert api.get("/api/v1/me").status_code == 200


# --- admin login lockout -------------------------------------------------------------------------


@pytest.fixture
def lockout(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    return settings


def test_admin_login_locks_out_after_repeated_failures(lockout, make_user):
    make_user("root", superuser=True)
    c = Client(REMOTE_ADDR="10.1.1.1")
    for _ in range(3):
        r = c.post("/admin/login/", {"username": "root", "password": "wrong"})
        assert r.status_code in (200, 429)
    # Locked: even the right password is refused now, from this IP.
    r = c.post("/admin/login/", {"username": "root", "password": "pass-root"})
    assert r.status_code == 429
    assert "_auth_user_id" not in c.session
    # The same user from another address still logs in (the lock is per user and IP).
    other = Client(REMOTE_ADDR="10.1.1.2")
    r = other.post("/admin/login/", {"username": "root", "password": "pass-root"})
    assert r.status_code == 302 and "_auth_user_id" in other.session


def test_finance_sees_the_lockout_records(lockout, make_user, django_user_model):
    make_user("root", superuser=True)
    c = Client(REMOTE_ADDR="10.1.1.9")
    for _ in range(3):
        c.post("/admin/login/", {"username": "root", "password": "wrong"})
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username="root", ip_address="10.1.1.9").exists()
    fiona = django_user_model.objects.create_user(username="fiona", password="x", is_staff=True)
    fiona.groups.add(sync_finance_group())
    finance = Client()
    finance.force_login(fiona)
    r = finance.get("/admin/axes/accessattempt/")
    assert r.status_code == 200 and b"10.1.1.9" in r.content
    attempt = AccessAttempt.objects.get(username="root")
    assert finance.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}).status_code == 403
