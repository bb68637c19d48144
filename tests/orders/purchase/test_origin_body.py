"""Issue 23.4: on /usageapi/v1 a JSON body is read whatever its Content-Type (origin clients use
``curl -d '{...}'``), for token-authenticated requests only; sessions keep JSON-only and CSRF."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from orders.models import PurchaseOrder
from tests.orders.purchase.helpers import account_of, make_plan

pytestmark = pytest.mark.django_db
BODY = json.dumps({"region": "cn-north-1", "plan_id": "vol-50g", "quantities": 2})


@pytest.fixture
def plan(user):
    make_plan("vol-50g", "30")
    account_of(user, "100")


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "", "text/plain", "application/octet-stream"]
)
def test_token_clients_may_send_json_with_any_content_type(api, plan, content_type):
    r = api.generic("POST", "/usageapi/v1/orders", BODY, content_type=content_type)
    assert r.status_code == 201, r.content[:300]
    assert r.json()["code"] == 0
    assert PurchaseOrder.objects.count() == 1


def test_form_encoded_garbage_is_3302(api, plan):
    r = api.generic(
        "POST",
        "/usageapi/v1/orders",
        "plan_id=vol-50g&quantities=2",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 400 and r.json()["code"] == 3302
    assert PurchaseOrder.objects.count() == 0


def test_multipart_is_still_refused(api, plan):
    r = api.post("/usageapi/v1/orders", {"plan_id": "vol-50g"})  # the test client's multipart
    assert r.status_code == 415 and r.json()["code"] == 3326
    assert PurchaseOrder.objects.count() == 0


def test_other_apis_stay_json_only(api):
    r = api.generic(
        "POST",
        "/api/v1/billing/recharge",
        json.dumps({"amount": "10", "payment_method": "sandbox", "currency": "CNY"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 415


def test_session_requests_keep_json_only_and_csrf(user, plan):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    # A cross-site form post carrying JSON: no CSRF token, and not JSON by its type: refused.
    r = browser.generic("POST", "/usageapi/v1/orders", BODY, content_type="application/x-www-form-urlencoded")
    assert r.status_code in (403, 415), r.content[:300]
    # Even with JSON's type, a session request without the CSRF token is refused.
    r = browser.generic("POST", "/usageapi/v1/orders", BODY, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == 3306
    assert PurchaseOrder.objects.count() == 0


def test_session_with_csrf_token_but_form_type_is_415(user, plan):
    browser = Client()  # CSRF checks off: isolates the parsing rule
    browser.force_login(user)
    r = browser.generic("POST", "/usageapi/v1/orders", BODY, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 415 and r.json()["code"] == 3326
    assert PurchaseOrder.objects.count() == 0
