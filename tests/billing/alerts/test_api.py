"""``GET /api/v1/billing/account`` (runway and thresholds) and ``GET``/``PATCH /api/v1/billing/alerts``."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.alerts.models import AlertThreshold
from billing.services import account_get_or_create
from tests.billing.factories import funded_account

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture(autouse=True)
def _defaults(settings):
    settings.BALANCE_ALERT_BELOW = D("25")
    settings.RUNWAY_ALERT_DAYS = 7


def data(response, status=200):
    assert response.status_code == status, response.content
    return response.json()["data"]


def test_account_shows_burn_runway_and_the_thresholds_in_force(api, user, burn):
    account = funded_account(user.username, "100", member=user)
    burn[account.pk] = D("30")
    body = data(api.get("/api/v1/billing/account"))
    assert (body["balance"], body["burn_per_day"], body["runway_days"]) == ("100.0000", "30.0000", "3.33")
    assert body["thresholds"] == {
        "balance_below": "25.0000",
        "runway_below_days": 7,
        "balance_below_is_default": True,
        "runway_below_days_is_default": True,
    }


def test_a_reader_without_a_wallet_sees_no_runway_and_nothing_is_written(api, burn):
    body = data(api.get("/api/v1/billing/account"))
    assert (body["burn_per_day"], body["runway_days"], body["thresholds"]["runway_below_days"]) == (
        "0.0000",
        None,
        7,
    )
    assert not AlertThreshold.objects.exists()


def test_patch_sets_inherits_and_switches_off(api, user, burn):
    account = funded_account(user.username, "100", member=user)
    body = data(
        api.patch("/api/v1/billing/alerts", {"balance_below": "500.5", "runway_below_days": 3}, format="json")
    )
    assert body["thresholds"] == {
        "balance_below": "500.5000",
        "runway_below_days": 3,
        "balance_below_is_default": False,
        "runway_below_days_is_default": False,
    }
    # one field: the other is kept; null goes back to the default; 0 is off
    body = data(api.patch("/api/v1/billing/alerts", {"runway_below_days": 0}, format="json"))
    assert (body["thresholds"]["balance_below"], body["thresholds"]["runway_below_days"]) == (
        "500.5000",
        None,
    )
    body = data(api.patch("/api/v1/billing/alerts", {"balance_below": None}, format="json"))
    assert body["thresholds"]["balance_below"] == "25.0000" and body["thresholds"]["balance_below_is_default"]
    row = AlertThreshold.objects.get(account=account)
    assert (row.balance_below, row.runway_below_days) == (None, 0)
    assert data(api.get("/api/v1/billing/account"))["thresholds"]["runway_below_days"] is None
    assert data(api.get("/api/v1/billing/alerts"))["states"] == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"balance_below": "-1"}, "balance_below"),
        ({"balance_below": True}, "balance_below"),
        ({"balance_below": "1.00001"}, "balance_below"),
        ({"balance_below": "100000001"}, "balance_below"),
        ({"runway_below_days": "3"}, "runway_below_days"),
        ({"runway_below_days": 3.5}, "runway_below_days"),
        ({"runway_below_days": -1}, "runway_below_days"),
        ({"runway_below_days": 3651}, "runway_below_days"),
    ],
)
def test_bad_thresholds_are_190101_and_change_nothing(api, user, burn, body, field):
    funded_account(user.username, "1", member=user)
    r = api.patch("/api/v1/billing/alerts", body, format="json")
    assert (r.status_code, r.json()["code"]) == (400, 190101)
    assert field in r.json()["data"]["errors"]
    assert not AlertThreshold.objects.exists()


def test_another_tenants_thresholds_are_out_of_reach(api, make_user, client_for, burn):
    other = make_user("bob")
    account_get_or_create(namespace="bobs", member=other)
    r = api.patch("/api/v1/billing/alerts", {"namespace": "bobs", "balance_below": "1"}, format="json")
    assert (r.status_code, r.json()["code"]) == (403, 3306)
    assert api.get("/api/v1/billing/alerts", {"namespace": "bobs"}).status_code == 403
    assert not AlertThreshold.objects.exists()
    assert data(
        client_for(other).patch(
            "/api/v1/billing/alerts", {"namespace": "bobs", "balance_below": "1"}, format="json"
        )
    )
