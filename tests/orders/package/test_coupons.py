"""A ``coupon`` on package order create (issue 20.1; docs/package-orders.md "Coupons"): the
first-period records of the components it applies to are net with their ``discount``, the order's
cost is net, the charge redeems it under the account lock, the preview shows it and writes
nothing, and a refused coupon is 3307 on ``coupon`` with nothing written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import LedgerEntry, Redemption
from billing.services import account_credit, account_get_or_create
from orders.models import PackageOrder, PackageOrderEvent
from tests.orders.package.factories import make_catalog
from tests.orders.package.test_api import create_body
from tests.plans.factories import PromotionFactory
from usage.audit import ledger_audit
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(user):
    make_catalog()  # vm: sys prepaid 30/month, cpu hourly 1.2/h (cpu=2), net postpaid
    account = account_get_or_create(namespace="alice", member=user)
    account_credit(account_id=account.pk, amount=Decimal("1000"), idempotency_key="s", subject=("test", "s"))
    return account


def body(coupon):
    return {**create_body(), "coupon": coupon}


def test_create_discounts_the_components_and_the_charge_redeems(api, setup):
    PromotionFactory(code="VM10", value=Decimal("10"), products=["vm"], max_redemptions=5)
    r = api.post("/api/v1/package-orders", body("vm10"), format="json")
    assert r.status_code == 201, r.json()
    data = r.json()["data"]
    assert (data["cost"], data["amount_payable"]) == ("28.0800", "28.0800")  # 27 + 1.08
    order = PackageOrder.objects.get(order_id=data["order_id"])
    assert (order.promotion.code, order.discount) == ("VM10", Decimal("3.12"))
    records = {r.component_id: r for r in UsageRecord.objects.filter(order_ref=order.order_id)}
    assert (records["sys"].amount, records["sys"].discount) == (Decimal("27"), Decimal("3"))
    assert (records["cpu"].amount, records["cpu"].discount) == (Decimal("1.08"), Decimal("0.12"))
    created = PackageOrderEvent.objects.get(order=order, reason="created")
    assert (created.data["coupon"], created.data["discount"]) == ("VM10", "3.1200")
    assert not Redemption.objects.exists()  # the charge redeems it
    charged = api.post(f"/api/v1/package-orders/{order.order_id}/charge")
    assert charged.status_code == 200, charged.json()
    redemption = Redemption.objects.get()
    assert (redemption.subject_type, redemption.subject_id) == ("package_order", order.order_id)
    assert LedgerEntry.objects.get(kind="charge").amount == Decimal("-28.08")
    assert ledger_audit() == []


def test_a_component_target_discounts_only_that_component(api, setup):
    PromotionFactory(code="SYS", kind="amount", value=Decimal("100"), components=["vm/sys"])
    data = api.post("/api/v1/package-orders", body("SYS"), format="json").json()["data"]
    assert data["cost"] == "1.2000"  # sys free (never below zero), cpu at full price


def test_the_preview_shows_the_discount_and_writes_nothing(api, setup):
    PromotionFactory(code="VM10", value=Decimal("10"), products=["vm"])
    r = api.post("/api/v1/package-orders?drytry=1", body("VM10"), format="json")
    data = r.json()["data"]
    assert (data["cost"], data["discount"]) == ("28.0800", "3.1200"), data
    assert not PackageOrder.objects.exists() and not Redemption.objects.exists()
    plain = api.post("/api/v1/package-orders?drytry=1", create_body(), format="json").json()["data"]
    assert "discount" not in plain and plain["cost"] == "31.2000"


@pytest.mark.parametrize(
    ("coupon", "setup_kw", "reason"),
    [
        ("NOPE", {}, "no such promotion"),
        ("bad code!", {}, "must be a coupon code"),
        ("C1", {"plan_types": ["volume"]}, "does not apply to plan 'vm-std'"),
        ("C1", {"status": "inactive"}, "is not active"),
    ],
)
def test_a_refused_coupon_is_3307_on_coupon_and_writes_nothing(api, setup, coupon, setup_kw, reason):
    PromotionFactory(code="C1", **setup_kw)
    r = api.post("/api/v1/package-orders", body(coupon), format="json")
    data = r.json()
    assert (r.status_code, data["code"]) == (400, 3307), data
    assert any(reason in msg for msg in data["data"]["errors"]["coupon"]), data
    assert not PackageOrder.objects.exists() and not UsageRecord.objects.exists()


def test_a_coupon_fully_redeemed_before_the_charge_refuses_it(api, setup):
    PromotionFactory(code="ONE", value=Decimal("10"), max_redemptions=1)
    first = api.post("/api/v1/package-orders", body("ONE"), format="json").json()["data"]["order_id"]
    second_body = body("ONE")
    second_body["order_product_set"][0]["prod_instance_ext_array"][0]["id"] = "i-2"
    second = api.post("/api/v1/package-orders", second_body, format="json").json()["data"]["order_id"]
    assert api.post(f"/api/v1/package-orders/{first}/charge").status_code == 200
    refused = api.post(f"/api/v1/package-orders/{second}/charge")
    data = refused.json()
    assert (refused.status_code, data["data"]["errors"]) == (
        400,
        {"coupon": ["promotion 'ONE' has been fully redeemed"]},
    )
    assert PackageOrder.objects.get(order_id=second).status == "unpaid"
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
