"""A plan order's ``pmid`` (issue 20.1; docs/vehicle-orders.md "Promotions"): the summary check
compares against the discounted sum, the discount is a line of its own, the payment redeems it
under the charge's lock, and a bad ``pmid`` is a 3504 error on ``pmid`` with nothing written."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest

from billing.models import LedgerEntry, Redemption
from billing.services import account_credit
from billing.tenancy import personal_account
from orders.vehicle.models import VehicleOrder, VehicleOrderDiscount, VehicleOrderEvent
from tests.orders.vehicle.factories import plan_order_body
from tests.plans.factories import PromotionFactory
from usage.audit import ledger_audit

pytestmark = pytest.mark.django_db


def fund(user: Any, amount: str) -> None:
    key = f"fund-{uuid.uuid4()}"
    account_credit(
        account_id=personal_account(user).pk,
        amount=Decimal(amount),
        idempotency_key=key,
        subject=("test", key),
    )


def body_with(promotion: Any, *, summary: str, payment: str | None = None) -> dict[str, Any]:
    body = plan_order_body()  # car-basic 1000 + 2000, car-plus 500.50
    body.update(pmid=str(promotion.pmid), summary=summary, payment=payment or summary)
    return body


def test_the_summary_is_the_discounted_sum_and_the_discount_its_own_line(api, user):
    promo = PromotionFactory(code="BASIC10", value=Decimal("10"), plan_ids=["car-basic"])
    res = api.post("/api/v1/plan-orders", body_with(promo, summary="3200.50"), format="json")
    assert res.status_code == 201, res.json()
    order = VehicleOrder.objects.get(order_id=res.json()["data"]["order_id"])
    assert (order.summary, order.pmid) == (Decimal("3200.50"), promo.pmid)
    line = VehicleOrderDiscount.objects.get(order=order)
    assert (line.promotion, line.gross, line.amount) == (promo, Decimal("3500.50"), Decimal("300"))
    placed = VehicleOrderEvent.objects.get(order=order)
    assert (placed.data["promotion"], placed.data["discount"]) == ("BASIC10", "300.0000")
    detail = api.get(f"/api/v1/orders/{order.order_id}").json()["data"]
    assert detail["discount"] == {
        "pmid": str(promo.pmid), "code": "BASIC10", "gross": "3500.5000", "amount": "300.0000"
    }  # fmt: skip
    assert not Redemption.objects.exists()  # redeemed by the payment


def test_an_order_without_pmid_has_no_discount_key(api, user):
    res = api.post("/api/v1/plan-orders", plan_order_body(), format="json")
    detail = api.get(f"/api/v1/orders/{res.json()['data']['order_id']}").json()["data"]
    assert "discount" not in detail and detail["pmid"] is None


def test_a_summary_that_ignores_the_discount_is_refused_naming_the_discounted_sum(api, user):
    promo = PromotionFactory(code="FLAT", kind="amount", value=Decimal("50"))
    res = api.post("/api/v1/plan-orders", body_with(promo, summary="3500.50"), format="json")
    body = res.json()
    assert (res.status_code, body["code"]) == (400, 3307), body
    assert body["data"]["errors"]["summary"] == [
        "must equal the sum of the item prices less the promotion's discount "
        "(3500.5000 - 50.0000 = 3450.5000)"
    ]
    assert not VehicleOrder.objects.exists()


@pytest.mark.parametrize(
    ("pmid", "setup", "reason"),
    [
        ("not-a-uuid", None, "must be a UUID"),
        (str(uuid.uuid4()), None, "no such promotion"),
        (None, {"status": "inactive"}, "is not active"),
        (None, {"plan_types": ["bsi"]}, "does not apply to plans 'car-basic', 'car-plus'"),
        (None, {"max_redemptions": 1, "_used": True}, "has been fully redeemed"),
    ],
)
def test_a_bad_pmid_is_refused_on_pmid_with_nothing_written(api, user, make_user, pmid, setup, reason):
    if setup is not None:
        used = setup.pop("_used", False)
        promo = PromotionFactory(code="P", **setup)
        pmid = str(promo.pmid)
        if used:
            from billing.services import account_get_or_create

            Redemption.objects.create(
                promotion=promo, account=account_get_or_create(namespace="other"), seq=1,
                subject_type="vehicle_order", subject_id="V1", redeemed_at=promo.created_at,
            )  # fmt: skip
    body = plan_order_body()
    body["pmid"] = pmid
    res = api.post("/api/v1/plan-orders", body, format="json")
    data = res.json()
    assert res.status_code == 400, data
    assert any(reason in msg for msg in data["data"]["errors"]["pmid"]), data
    assert not VehicleOrder.objects.exists() and not VehicleOrderDiscount.objects.exists()


def test_paying_redeems_the_promotion_and_charges_the_discounted_payment(api, user):
    promo = PromotionFactory(code="CAR50", kind="amount", value=Decimal("50"), max_redemptions=1)
    fund(user, "5000")
    order_id = api.post("/api/v1/plan-orders", body_with(promo, summary="3450.50"), format="json").json()[
        "data"
    ]["order_id"]
    preview = api.post(f"/api/v1/orders/{order_id}/pay?drytry=1", format="json").json()["data"]
    assert (preview["charge"], preview["discount"]) == ("3450.5000", "50.0000")
    assert not Redemption.objects.exists()
    paid = api.post(f"/api/v1/orders/{order_id}/pay", format="json")
    assert paid.status_code == 200, paid.json()
    order = VehicleOrder.objects.get(order_id=order_id)
    redemption = Redemption.objects.get()
    assert (redemption.subject_type, redemption.subject_id) == ("vehicle_order", order.order_no)
    charge = LedgerEntry.objects.get(kind="charge")
    assert charge.amount == Decimal("-3450.50")
    pay_event = VehicleOrderEvent.objects.filter(order=order, kind="pay").get()
    assert (pay_event.data["promotion"], pay_event.data["discount"]) == ("CAR50", "50.0000")
    assert ledger_audit() == []


def test_a_promotion_fully_redeemed_after_placing_refuses_the_payment(api, user, make_user):
    promo = PromotionFactory(code="ONE", kind="amount", value=Decimal("50"), max_redemptions=1)
    fund(user, "10000")
    first = api.post("/api/v1/plan-orders", body_with(promo, summary="3450.50"), format="json").json()
    second = api.post("/api/v1/plan-orders", body_with(promo, summary="3450.50"), format="json").json()
    assert api.post(f"/api/v1/orders/{first['data']['order_id']}/pay", format="json").status_code == 200
    refused = api.post(f"/api/v1/orders/{second['data']['order_id']}/pay", format="json")
    data = refused.json()
    assert (refused.status_code, data["code"]) == (400, 3504), data
    assert data["data"]["errors"] == {"pmid": ["promotion 'ONE' has been fully redeemed"]}
    assert LedgerEntry.objects.filter(kind="charge").count() == 1
    assert VehicleOrder.objects.get(order_id=second["data"]["order_id"]).state_code == 1
    assert Redemption.objects.count() == 1


def test_the_admin_order_page_shows_the_discount_line(api, user, admin_client):
    from django.urls import reverse

    promo = PromotionFactory(code="SHOWN", kind="amount", value=Decimal("50"))
    order_id = api.post("/api/v1/plan-orders", body_with(promo, summary="3450.50"), format="json").json()[
        "data"
    ]["order_id"]
    order = VehicleOrder.objects.get(order_id=order_id)
    page = admin_client.get(reverse("admin:orders_vehicleorder_change", args=[order.pk]))
    assert page.status_code == 200
    assert b"SHOWN" in page.content
