from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token

from billing.models import Account


@pytest.mark.django_db
def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200, r.json()
    assert r.json()["data"]["database"]["ok"] is True
    assert r.json()["data"]["broker"]["ok"] is True


@pytest.mark.django_db
def test_healthz_503_when_broker_is_down(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.HTTP_TIMEOUT_SECONDS = 1.0
    r = client.get("/healthz")
    assert r.status_code == 503
    body = r.json()
    assert body["code"] == 3323
    assert body["data"]["broker"]["ok"] is False
    assert body["data"]["database"]["ok"] is True


@pytest.mark.django_db
def test_create_api_user_prints_token_last_and_is_idempotent(django_user_model):
    out = io.StringIO()
    call_command("create_api_user", "svc1", "--staff", "--namespace", "team-x", stdout=out)
    token = out.getvalue().strip().splitlines()[-1]
    user = django_user_model.objects.get(username="svc1")
    assert Token.objects.get(user=user).key == token
    assert user.is_staff
    assert set(Account.objects.filter(members=user).values_list("namespace", flat=True)) == {"svc1", "team-x"}

    out2 = io.StringIO()
    call_command("create_api_user", "svc1", stdout=out2)
    assert out2.getvalue().strip().splitlines()[-1] == token
    assert django_user_model.objects.filter(username="svc1").count() == 1


@pytest.mark.django_db
def test_create_api_user_rejects_bad_namespace():
    with pytest.raises(CommandError):
        call_command("create_api_user", "svc2", "--namespace", "bad ns!", stdout=io.StringIO())


@pytest.mark.django_db
def test_load_demo_is_idempotent():
    from billing.models import LedgerEntry

    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert "demo API token" in out.getvalue()
    entries_after_first = LedgerEntry.objects.count()
    balances_after_first = dict(Account.objects.values_list("namespace", "balance"))
    call_command("load_demo", stdout=io.StringIO())
    # A second run moves no money and writes no ledger entry.
    assert LedgerEntry.objects.count() == entries_after_first
    assert dict(Account.objects.values_list("namespace", "balance")) == balances_after_first
    demo = Account.objects.get(namespace="demo")
    assert demo.balance == sum(e.amount for e in demo.ledger_entries.all())
