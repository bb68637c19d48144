"""A ``coupon`` on purchase order create and the renewals that keep applying it (issue 20.1;
docs/purchase-orders.md "Coupons"): the discount is its own amount on each usage record, the
charge is net, a refused coupon writes nothing, and ``run_billing --at`` applies the promotion for
exactly its duration (``once``, N ``periods``, ``forever``) with the ledger audit clean after each."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from billing.models import LedgerEntry, Redemption
from billing.services import account_credit, account_get_or_create
from config.exceptions import InsufficientFunds
from orders.models import PurchaseOrder, PurchaseOrderEvent
from orders.purchase.renewal import renewal_run
from orders.purchase.services import purchase_order_create, purchase_order_renew
from plans.errors import PromotionRefused
from plans.models import BillingMode, Cycle
from tests.orders.purchase.helpers import assert_ledger, balance, local, make_plan
from tests.plans.factories import PromotionFactory
from usage.audit import ledger_audit
from usage.models import UsageKind, UsageRecord

pytestmark = pytest.mark.django_db
START = local(2026, 3, 10, 12)


def counts() -> tuple[int, ...]:
    return (
        PurchaseOrder.objects.count(),
        UsageRecord.objects.count(),
        LedgerEntry.objects.count(),
        Redemption.objects.count(),
        PurchaseOrderEvent.objects.count(),
    )


def account_of(user: Any, amount: str) -> Any:
    """A member's account funded with a credit that names its subject (the audit wants one)."""
    account = account_get_or_create(namespace=user.get_username(), member=user)
    key = f"seed-{account.ledger_entries.count()}"
    account_credit(account_id=account.pk, amount=Decimal(amount), idempotency_key=key, subject=("test", key))
    account.refresh_from_db()
    return account


def create(user: Any, *, coupon: str | None, funds: str = "100", qty: int = 1) -> Any:
    account = account_of(user, funds)
    make_plan("vol-50g", "30")
    return purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="vol-50g", quantities=qty,
        coupon=coupon, at=START,
    )  # fmt: skip


def test_create_with_a_coupon_charges_the_net_and_records_the_discount(user):
    promo = PromotionFactory(code="SPRING", value=Decimal("10"), max_redemptions=3)
    result = create(user, coupon="spring", qty=2)
    order = result.order
    assert (result.money, result.discount, result.coupon) == (Decimal("54"), Decimal("6"), "SPRING")
    record = UsageRecord.objects.get(order_ref=order.order_id)
    assert (record.kind, record.amount, record.discount) == (UsageKind.NEW, Decimal("54"), Decimal("6"))
    assert record.ledger_entry.amount == Decimal("-54")
    redemption = Redemption.objects.get()
    assert (redemption.promotion, redemption.subject_id, redemption.seq) == (promo, order.order_id, 1)
    event = PurchaseOrderEvent.objects.filter(order=order).order_by("pk").last()
    assert event.data == {"money": "54.0000", "coupon": "SPRING", "discount": "6.0000"}
    assert balance(order.account) == Decimal("46")
    assert ledger_audit() == []


def test_api_create_and_drytry_show_the_discount(api, user):
    PromotionFactory(code="FIVE", kind="amount", value=Decimal("5"))
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    before = counts()
    body = {"region": "cn-north-1", "plan_id": "vol-50g", "coupon": "five"}
    preview = api.post("/usageapi/v1/orders?drytry=1", body, format="json")
    assert preview.status_code == 200, preview.json()
    data = preview.json()["data"]
    assert (data["money"], data["discount"], data["order"]["coupon"]) == ("25.00", "5.00", "FIVE")
    assert counts() == before  # the preview wrote nothing, not even a redemption
    created = api.post("/usageapi/v1/orders", body, format="json")
    assert created.status_code == 201, created.json()
    data = created.json()["data"]
    assert (data["money"], data["discount"], data["coupon"]) == ("25.00", "5.00", "FIVE")
    assert balance(account) == Decimal("75")
    plain = api.post("/usageapi/v1/orders", {"region": "cn-north-1", "plan_id": "vol-50g"}, format="json")
    assert "discount" not in plain.json()["data"] and plain.json()["data"]["money"] == "30.00"


@pytest.mark.parametrize(
    ("coupon", "setup", "reason"),
    [
        ("NOPE", {}, "no such promotion"),
        (12, {}, "must be a coupon code"),
        ("bad code!", {}, "must be a coupon code"),
        ("C1", {"status": "inactive"}, "is not active"),
        ("C1", {"valid_until": START}, "has expired"),
        ("C1", {"plan_types": ["bsi"]}, "does not apply to plan 'vol-50g'"),
    ],
)
def test_a_refused_coupon_is_3307_on_coupon_and_writes_nothing(api, user, coupon, setup, reason):
    PromotionFactory(code="C1", **setup)
    make_plan("vol-50g", "30")
    account = account_of(user, "100")
    before = counts()
    body = {"region": "cn-north-1", "plan_id": "vol-50g", "coupon": coupon}
    r = api.post("/usageapi/v1/orders", body, format="json")
    body = r.json()
    assert (r.status_code, body["code"]) == (400, 3307), body
    assert any(reason in msg for msg in body["data"]["errors"]["coupon"]), body
    assert "coupon" in body["msg"]
    assert counts() == before and balance(account) == Decimal("100")


def test_a_coupon_fully_redeemed_or_already_used_by_the_account_is_refused(user, make_user):
    PromotionFactory(code="ONE", max_per_account=1, max_redemptions=2)
    create(user, coupon="ONE", funds="200")
    with pytest.raises(PromotionRefused) as info:
        create(user, coupon="ONE")
    assert info.value.errors == {"coupon": ["this account has already redeemed 'ONE'"]}
    create(make_user("bob"), coupon="ONE")
    with pytest.raises(PromotionRefused) as info:
        create(make_user("carol"), coupon="ONE")
    assert info.value.errors == {"coupon": ["promotion 'ONE' has been fully redeemed"]}
    assert Redemption.objects.count() == 2


def test_a_postpaid_plan_takes_a_coupon_and_the_create_redeems_it_without_a_charge(user):
    # Was a refusal ("coupons apply to prepaid plans") until the jobs runner applied promotions:
    # the billed periods are discounted (tests/orders/purchase/test_coupons_billed_lines.py).
    PromotionFactory(code="ANY")
    make_plan("res-cpu", "0.5", plan_type="resources", mode=BillingMode.POSTPAID, cycle=Cycle.HOUR)
    result = purchase_order_create(
        account=account_of(user, "10"), creator=user, region="cn-north-1", plan_id="res-cpu",
        coupon="ANY", at=START,
    )  # fmt: skip
    assert (result.money, result.discount, result.coupon) == (Decimal("0"), Decimal("0"), "ANY")
    redemption = Redemption.objects.get()
    assert (redemption.subject_id, redemption.first_period) == (result.order.order_id, 1)
    assert not UsageRecord.objects.exists() and LedgerEntry.objects.filter(kind="charge").count() == 0


def test_a_short_balance_leaves_no_redemption(user):
    PromotionFactory(code="HALF", value=Decimal("50"), max_redemptions=1)
    with pytest.raises(InsufficientFunds):
        create(user, coupon="HALF", funds="10")
    assert counts()[:4] == (0, 0, 1, 0)  # only the funding entry
    assert PromotionFactory._meta.model.objects.get(code="HALF").redemptions.count() == 0


# --- renewals across the promotion's duration (run_billing --at) --------------------------------

RUNS = [local(2026, 4, 4), local(2026, 5, 4), local(2026, 6, 4), local(2026, 7, 4)]


@pytest.mark.parametrize(
    ("duration", "n", "discounts"),
    [
        ("once", None, ["3", "0", "0", "0", "0"]),
        ("periods", 3, ["3", "3", "3", "0", "0"]),
        ("forever", None, ["3", "3", "3", "3", "3"]),
    ],
)
def test_run_billing_applies_the_promotion_for_its_duration(
    user, duration, n, discounts, django_capture_on_commit_callbacks
):
    # the window closes after the create: renewals keep the discount the order redeemed
    PromotionFactory(
        code="TEN", value=Decimal("10"), duration=duration, duration_periods=n, valid_until=RUNS[0]
    )
    order = create(user, coupon="TEN", funds="1000").order
    for at in RUNS:
        out = StringIO()
        with django_capture_on_commit_callbacks(execute=True):
            call_command("run_billing", "--at", at.isoformat(), stdout=out)
        assert "renewed 1" in out.getvalue(), out.getvalue()
        assert ledger_audit() == []
    records = UsageRecord.objects.filter(order_ref=order.order_id).order_by("period_start")
    assert [r.discount for r in records] == [Decimal(d) for d in discounts]
    assert [r.amount for r in records] == [Decimal("30") - Decimal(d) for d in discounts]
    assert [r.kind for r in records] == [UsageKind.NEW] + [UsageKind.RENEW] * 4
    paid = sum((r.amount for r in records), Decimal(0))
    assert balance(order.account) == Decimal("1000") - paid
    assert_ledger(order.account)
    renewed = PurchaseOrderEvent.objects.filter(order=order, reason="renewed").order_by("pk")
    assert [e.data.get("discount") for e in renewed] == [
        None if d == "0" else f"{Decimal(d):.4f}" for d in discounts[1:]
    ]
    assert Redemption.objects.count() == 1  # renewals apply the redemption, they do not add one


def test_the_dry_run_shows_the_discount(user):
    PromotionFactory(code="TEN", value=Decimal("10"), duration="forever")
    create(user, coupon="TEN", funds="1000")
    summary = renewal_run(at=RUNS[0], chunk_size=10, dry_run=True)
    assert summary.money == Decimal("27")
    assert summary.would_charge[0]["discount"] == "3.0000"
    assert UsageRecord.objects.count() == 1


def test_manual_renew_and_its_preview_apply_the_discount(api, user):
    PromotionFactory(code="TWO", kind="amount", value=Decimal("7.5"), duration="periods", duration_periods=2)
    order = create(user, coupon="TWO", funds="1000").order
    preview = api.put(f"/usageapi/v1/orders/{order.order_id}?drytry=1", {"action": "renew"}, format="json")
    assert preview.json()["data"]["money"] == "22.50", preview.json()
    assert purchase_order_renew(order_pk=order.pk, actor=user, at=START).money == Decimal("22.5")
    assert purchase_order_renew(order_pk=order.pk, actor=user, at=START).money == Decimal("30")
    records = UsageRecord.objects.filter(order_ref=order.order_id).order_by("period_start")
    assert [r.discount for r in records] == [Decimal("7.5"), Decimal("7.5"), Decimal("0")]
    assert ledger_audit() == []


def test_usages_show_each_records_discount(api, user):
    PromotionFactory(code="TEN", value=Decimal("10"))
    order = create(user, coupon="TEN").order
    create(user, coupon=None, funds="100")
    results = api.get("/usageapi/v1/usages").json()["data"]["results"]
    shown = sorted((r["order_id"] == order.order_id, r["money"], r["discount"]) for r in results)
    assert shown == [(False, "30.00", "0.00"), (True, "27.00", "3.00")]
