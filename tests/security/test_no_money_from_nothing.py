"""Issue 13 item 1: no money from nothing.

- the ``sandbox`` payment method and its pay page exist only when ``PAYMENT_SANDBOX_ENABLED`` is on
  (default: ``DEBUG``); off, the method is refused with 400 naming the allowed methods and the page
  is 404 even for its owner, so no page embeds a valid callback signature;
- when on, the page is shown to the recharge's owner only (session member, or the one-time token of
  the creator's pay URL, stored hashed); a guessed id, a wrong or reused token is 404;
- ``PAYMENT_CALLBACK_SECRET`` is required when ``DEBUG`` is off, and the published
  ``dev-callback-secret`` verifies no callback without ``DEBUG``.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.checks import run_checks
from django.test import Client

from billing.models import LedgerEntry, RechargeOrder
from billing.recharges import recharge_create
from billing.signature import sign
from tests.billing.factories import funded_account

pytestmark = pytest.mark.django_db
RECHARGE = {"amount": "100000000", "payment_method": "sandbox", "currency": "CNY"}
CALLBACK = "/internal/v1/billing/callback"


@pytest.fixture(autouse=True)
def _payments(settings: Any) -> None:
    settings.TALLY_CURRENCY = "CNY"
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.PAYMENT_SERVICE_URL = ""
    settings.PAYMENT_CALLBACK_SECRET = "real-secret"
    settings.PAYMENT_CALLBACK_OLD_SECRETS = []


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


def sandbox_order(owner: Any) -> RechargeOrder:
    account = funded_account(owner.username, "0", member=owner)
    return recharge_create(
        account=account, amount="500.00", currency="CNY", payment_method="sandbox", actor=owner
    )


def signed_callback(client: Client, order: RechargeOrder, secret: str) -> Any:
    body = json.dumps(
        {"recharge_order_id": order.public_id, "payment_id": "X", "amount": "500.00", "status": "SUCCESS"}
    ).encode()
    return client.post(
        CALLBACK, data=body, content_type="application/json", HTTP_X_TALLY_SIGNATURE=sign(body, secret=secret)
    )


# --- off: no method, no page -------------------------------------------------------------------


def test_sandbox_method_refused_when_disabled(settings, api, user):
    settings.PAYMENT_SANDBOX_ENABLED = False
    r = api.post("/api/v1/billing/recharge", RECHARGE, format="json")
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == 190304 and "sandbox" in body["msg"]
    assert body["data"]["errors"] == {"payment_method": ["no payment method is enabled"]}
    assert RechargeOrder.objects.count() == 0

    settings.PAYMENT_SERVICE_URL = "http://payments.invalid"
    r = api.post("/api/v1/billing/recharge", RECHARGE, format="json")
    assert r.status_code == 400 and r.json()["data"]["errors"] == {"payment_method": ["must be one of: http"]}
    assert RechargeOrder.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_pay_page_is_404_when_disabled_even_for_the_owner(settings, user):
    order = sandbox_order(user)  # created while enabled (e.g. before the switch)
    settings.PAYMENT_SANDBOX_ENABLED = False
    owner = Client()
    owner.force_login(user)
    for client, url in ((owner, f"/sandbox/pay/{order.public_id}"), (Client(), path_of(order.pay_url))):
        r = client.get(url)
        assert r.status_code == 404 and b"signature" not in r.content.lower()
    assert Client().get("/sandbox/pay/RNOPE").status_code == 404
    order.refresh_from_db()
    assert order.pay_token_hash  # the refused visit did not consume the token


def test_sandbox_is_off_by_default_without_debug_and_on_with_it(run_python):
    code = "print(settings.PAYMENT_SANDBOX_ENABLED)"
    assert run_python(code).stdout.split() == ["False"]
    debug = run_python(code, DEBUG="1", SECRET_KEY=None, PAYMENT_CALLBACK_SECRET=None)
    assert debug.stdout.split() == ["True"]
    assert run_python(code, PAYMENT_SANDBOX_ENABLED="1").stdout.split() == ["True"]


def test_check_warns_when_the_sandbox_is_on_without_debug(settings, manage):
    from billing.checks import sandbox_outside_debug

    settings.TALLY_TEST_RUN = False  # as a deployment: the suite's own run does not warn
    settings.DEBUG, settings.PAYMENT_SANDBOX_ENABLED = False, True
    assert [w.id for w in sandbox_outside_debug()] == ["tally.W001"]
    assert "tally.W001" in [m.id for m in run_checks()]
    settings.DEBUG = True
    assert sandbox_outside_debug() == []
    settings.DEBUG, settings.PAYMENT_SANDBOX_ENABLED = False, False
    assert sandbox_outside_debug() == []

    done = manage("check", env={"PAYMENT_SANDBOX_ENABLED": "1"})
    assert done.returncode == 0 and "tally.W001" in done.stderr + done.stdout
    done = manage("check")
    assert done.returncode == 0 and "tally.W001" not in done.stderr + done.stdout


# --- on: the owner only -----------------------------------------------------------------------


def test_pay_page_needs_the_owner_or_the_one_time_token(settings, make_user):
    settings.PAYMENT_SANDBOX_ENABLED = True
    alice, mallory = make_user("alice"), make_user("mallory")
    order = sandbox_order(alice)
    bare = f"/sandbox/pay/{order.public_id}"
    token = order.pay_url.partition("?token=")[2]
    stored = RechargeOrder.objects.get(pk=order.pk)
    assert stored.pay_token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in stored.pay_url

    assert Client().get(bare).status_code == 404  # a guessed id
    assert Client().get(bare + "?token=wrong").status_code == 404
    other = Client()
    other.force_login(mallory)
    assert other.get(bare).status_code == 404  # another tenant's session

    owner = Client()
    owner.force_login(alice)
    r = owner.get(bare)
    assert r.status_code == 200 and r.context["order"].pk == order.pk
    assert "no-store" in r["Cache-Control"]

    holder = Client()  # whoever holds the creator's URL, once
    assert holder.get(path_of(order.pay_url)).status_code == 200
    assert holder.get(bare).status_code == 200  # the same browser may reload
    assert Client().get(path_of(order.pay_url)).status_code == 404  # the token is used up
    assert RechargeOrder.objects.get(pk=order.pk).pay_token_hash == ""


def test_guessed_id_cannot_be_paid_by_replaying_the_page(settings, make_user):
    """The reproduced attack: the page's signed body replayed. Only its owner ever sees one."""
    settings.PAYMENT_SANDBOX_ENABLED = True
    order = sandbox_order(make_user("alice"))
    r = Client().get(f"/sandbox/pay/{order.public_id}")
    assert r.status_code == 404 and b"pay-signature" not in r.content
    assert LedgerEntry.objects.count() == 0


# --- the callback secret ----------------------------------------------------------------------


def test_published_secret_verifies_nothing_without_debug(settings, client, user):
    settings.PAYMENT_SANDBOX_ENABLED = True
    order = sandbox_order(user)
    for current, old in (("dev-callback-secret", []), ("real-secret", ["dev-callback-secret"])):
        settings.PAYMENT_CALLBACK_SECRET, settings.PAYMENT_CALLBACK_OLD_SECRETS = current, old
        r = signed_callback(client, order, "dev-callback-secret")
        assert r.status_code == 401 and r.json()["code"] == 190303
    order.refresh_from_db()
    assert order.status == "pending" and LedgerEntry.objects.count() == 0

    settings.DEBUG = True  # development: the README's secret works
    settings.PAYMENT_CALLBACK_SECRET, settings.PAYMENT_CALLBACK_OLD_SECRETS = "dev-callback-secret", []
    r = signed_callback(client, order, "dev-callback-secret")
    assert r.status_code == 200 and r.json()["data"]["outcome"] == "credited"
    assert LedgerEntry.objects.get().amount == Decimal("500.0000")


def test_callback_secret_is_required_without_debug(run_python):
    done = run_python("print('started')", PAYMENT_CALLBACK_SECRET=None)
    assert done.returncode != 0 and "started" not in done.stdout
    assert "ImproperlyConfigured: PAYMENT_CALLBACK_SECRET must be set when DEBUG is off" in done.stderr

    done = run_python("print('started')", PAYMENT_CALLBACK_SECRET="dev-callback-secret")
    assert done.returncode != 0 and "must not be the published development secret" in done.stderr

    done = run_python("print(settings.PAYMENT_CALLBACK_SECRET)", DEBUG="1", PAYMENT_CALLBACK_SECRET=None)
    assert done.returncode == 0 and done.stdout.split() == ["dev-callback-secret"]
