"""Promotions and redemptions in the admin (docs/admin.md): Finance views both, changes neither;
the promotion list counts redemptions; a redeemed promotion cannot be deleted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from billing.promotions import promotion_redeem
from tests.billing.factories import funded_account
from tests.plans.factories import PromotionFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def redeemed():
    promotion = PromotionFactory(code="SPRING", max_redemptions=5)
    account = funded_account("acme")
    with transaction.atomic():
        promotion_redeem(
            account_id=account.pk,
            promotion_id=promotion.pk,
            subject=("purchase_order", "PO-1"),
            field="coupon",
            at=NOW,
        )
    return promotion


def test_finance_lists_redemptions_and_promotions_read_only(finance_client: Client, redeemed) -> None:
    page = finance_client.get(reverse("admin:billing_redemption_changelist"))
    assert page.status_code == 200
    assert b"PO-1" in page.content and b"acme" in page.content
    assert finance_client.get(reverse("admin:billing_redemption_add")).status_code == 403
    promos = finance_client.get(reverse("admin:plans_promotion_changelist"))
    assert promos.status_code == 200 and b"SPRING" in promos.content
    assert finance_client.get(reverse("admin:plans_promotion_add")).status_code == 403


def test_staff_without_the_permission_sees_no_redemptions(make_user, redeemed) -> None:
    user = make_user("stan", staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(reverse("admin:billing_redemption_changelist")).status_code == 403


def test_superuser_sees_the_redeemed_count_and_cannot_delete_a_redeemed_promotion(
    admin_client: Client, redeemed
) -> None:
    page = admin_client.get(reverse("admin:plans_promotion_changelist"))
    assert page.status_code == 200
    assert b'class="field-redeemed">1<' in page.content
    delete = admin_client.get(reverse("admin:plans_promotion_delete", args=[redeemed.pk]))
    assert delete.status_code == 403
    fresh = PromotionFactory(code="FRESH")
    assert admin_client.get(reverse("admin:plans_promotion_delete", args=[fresh.pk])).status_code == 200
