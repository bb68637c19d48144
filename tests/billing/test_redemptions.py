"""Redemptions (docs/plans.md "Promotions"): the limits, the replay of the same order, and one
transaction with the charge (a refused charge leaves no redemption and the other way round)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import transaction

from billing.models import Redemption
from billing.promotions import promotion_redeem, promotion_redeemable, redemption_covers, redemption_for
from billing.services import account_charge
from config.exceptions import InsufficientFunds
from plans.errors import PromotionRefused
from tests.billing.factories import funded_account, ledger_sum
from tests.plans.factories import PromotionFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


def redeem(account, promotion, order_id: str, **kw):
    with transaction.atomic():
        return promotion_redeem(
            account_id=account.pk,
            promotion_id=promotion.pk,
            subject=("purchase_order", order_id),
            field="coupon",
            at=NOW,
            **kw,
        )


def test_total_limit_refuses_the_next_redemption_with_the_field():
    p = PromotionFactory(max_redemptions=2)
    a, b, c = (funded_account(ns) for ns in ("a", "b", "c"))
    redeem(a, p, "o1")
    redeem(b, p, "o2")
    with pytest.raises(PromotionRefused) as info:
        redeem(c, p, "o3")
    assert info.value.errors == {"coupon": [f"promotion {p.code!r} has been fully redeemed"]}
    assert Redemption.objects.count() == 2
    with pytest.raises(PromotionRefused):
        promotion_redeemable(account_id=c.pk, promotion=p, field="coupon")


def test_per_account_limit_numbers_the_accounts_redemptions():
    p = PromotionFactory(max_per_account=2)
    a, b = funded_account("a"), funded_account("b")
    assert redeem(a, p, "o1").redemption.seq == 1
    assert redeem(a, p, "o2").redemption.seq == 2
    with pytest.raises(PromotionRefused) as info:
        redeem(a, p, "o3")
    assert info.value.errors == {"coupon": [f"this account has already redeemed {p.code!r}"]}
    assert redeem(b, p, "o4").redemption.seq == 1
    promotion_redeemable(account_id=b.pk, promotion=p, field="coupon")  # b has one left
    with pytest.raises(PromotionRefused):
        promotion_redeemable(account_id=a.pk, promotion=p, field="coupon")


def test_the_same_order_redeeming_again_is_a_replay():
    p = PromotionFactory(max_redemptions=1)
    a = funded_account("a")
    first = redeem(a, p, "o1")
    again = redeem(a, p, "o1")
    assert again.replayed and again.redemption.pk == first.redemption.pk
    assert Redemption.objects.count() == 1
    assert redemption_for(subject=("purchase_order", "o1")) == first.redemption
    assert redemption_for(subject=("purchase_order", "o2")) is None


def test_a_refused_charge_leaves_no_redemption():
    p = PromotionFactory(max_redemptions=1)
    a = funded_account("a", "5")
    with pytest.raises(InsufficientFunds), transaction.atomic():
        promotion_redeem(
            account_id=a.pk, promotion_id=p.pk, subject=("purchase_order", "o1"), field="coupon", at=NOW
        )
        account_charge(account_id=a.pk, amount=Decimal("9"), idempotency_key="o1")
    assert not Redemption.objects.exists()
    assert ledger_sum(a) == Decimal("5")
    redeem(funded_account("b"), p, "o2")  # the slot is still free


def test_a_refused_redemption_leaves_no_charge():
    p = PromotionFactory(max_redemptions=1)
    redeem(funded_account("a"), p, "o1")
    b = funded_account("b", "20")
    with pytest.raises(PromotionRefused), transaction.atomic():
        account_charge(account_id=b.pk, amount=Decimal("9"), idempotency_key="o2")
        promotion_redeem(
            account_id=b.pk, promotion_id=p.pk, subject=("purchase_order", "o2"), field="coupon", at=NOW
        )
    b.refresh_from_db()
    assert b.balance == Decimal("20") == ledger_sum(b)


@pytest.mark.parametrize(
    ("duration", "n", "first_period", "covered"),
    [
        ("once", None, 1, [1]),
        ("periods", 2, 1, [1, 2]),
        ("periods", 2, 3, [3, 4]),  # redeemed on the line's third period
        ("forever", None, 1, [1, 2, 3, 4, 5]),
    ],
)
def test_a_redemption_covers_the_orders_periods_from_its_first(duration, n, first_period, covered):
    p = PromotionFactory(duration=duration, duration_periods=n)
    r = redeem(funded_account("a"), p, "o1", first_period=first_period).redemption
    assert [i for i in range(1, 6) if redemption_covers(r, period_index=i)] == covered
