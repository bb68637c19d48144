"""``drytry=1`` on ``/usageapi/v1/orders``: the same price as the real call, nothing written.

Issue 15: a "preview" of modify switched the plan and refunded 14.83. Every preview here is run
inside ``nothing_written()`` (every row of every table and the on_commit queue unchanged), then the
real call is made and must move exactly the previewed money.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import IdempotencyKey, LedgerEntry
from config.money_sql import money_sum
from orders.models import PurchaseOrder
from orders.purchase import previews
from orders.purchase.services import purchase_order_create, purchase_order_renew
from orders.purchase.switch import purchase_order_modify
from tests.orders.nothing_written import nothing_written
from tests.orders.purchase.helpers import (
    account_of,
    add_price,
    assert_ledger,
    balance,
    fund,
    local,
    make_plan,
)

pytestmark = pytest.mark.django_db
_examples = itertools.count()


def ledger_total(account) -> Decimal:
    return money_sum(LedgerEntry.objects.filter(account=account))


@pytest.fixture
def running(user):
    """A vol-50g order (30/month) opened 10 days ago, and the vol-100g plan (50/month)."""
    account = account_of(user, "200")
    make_plan("vol-50g", "30.0004")
    make_plan("vol-100g", "50")
    order = purchase_order_create(
        account=account,
        creator=user,
        region="cn-north-1",
        plan_id="vol-50g",
        quantities=3,
        at=timezone.now() - timedelta(days=10, hours=3),
    ).order
    return account, order


def test_create_preview_writes_nothing_and_prices_what_the_create_charges(api, user):
    account = account_of(user, "100")
    make_plan("vol-50g", "30.0004")
    body = {"region": "cn-north-1", "plan_id": "vol-50g", "quantities": 2}
    with nothing_written():
        r = api.post("/usageapi/v1/orders?drytry=1", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 200, r.content
    data = r.json()["data"]
    assert data["drytry"] is True and data["money"] == "60.00"
    assert data["order"]["status"] == "pending" and "id" not in data["order"]
    # the same Idempotency-Key is still free for the real call, which charges the previewed price
    before = balance(account)
    r = api.post("/usageapi/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 201 and r.json()["data"]["money"] == "60.00"
    assert before - balance(account) == Decimal("60.0008")  # 2 x 30.0004, the 4-place charge
    assert IdempotencyKey.objects.count() == 1 and PurchaseOrder.objects.count() == 1
    assert_ledger(account)


def test_modify_preview_writes_nothing_then_the_switch_moves_the_same_money(api, running):
    account, order = running
    body = {"action": "modify", "plan_id": "vol-100g"}
    with nothing_written():
        r = api.put(f"/usageapi/v1/orders/{order.pk}?drytry=1", body, format="json")
    assert r.status_code == 200, r.content
    preview = r.json()["data"]
    assert preview["drytry"] is True
    assert preview["order"]["plan_id"] == "vol-100g" and preview["order"]["status"] == "pending"
    assert preview["old_order"]["status"] == "consuming"
    assert Decimal(preview["price"]) == Decimal("150.00")
    assert Decimal(preview["money"]) == Decimal(preview["price"]) - Decimal(preview["credit"])
    before = ledger_total(account)
    r = api.put(f"/usageapi/v1/orders/{order.pk}", body, format="json")
    assert r.status_code == 200, r.content
    real = r.json()["data"]
    assert (real["money"], real["credit"]) == (preview["money"], preview["credit"])
    assert before - ledger_total(account) == Decimal(preview["money"])
    assert_ledger(account)


def test_modify_preview_of_a_refunding_switch(api, user):
    """Down to a cheaper plan: the preview's negative money is what the switch refunds."""
    account = account_of(user, "200")
    make_plan("vol-100g", "50")
    make_plan("vol-10g", "1")
    order = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id="vol-100g", at=timezone.now()
    ).order
    body = {"action": "modify", "plan_id": "vol-10g"}
    with nothing_written():
        preview = api.put(f"/usageapi/v1/orders/{order.order_id}", {**body, "drytry": 1}, format="json")
    money = Decimal(preview.json()["data"]["money"])
    assert money < 0
    before = ledger_total(account)
    api.put(f"/usageapi/v1/orders/{order.order_id}", body, format="json")
    assert ledger_total(account) - before == -money
    refund = LedgerEntry.objects.filter(account=account, kind="refund").get()
    assert refund.amount == -money


def test_renew_preview_writes_nothing_then_the_renewal_charges_it(api, running):
    account, order = running
    with nothing_written():
        r = api.put(f"/usageapi/v1/orders/{order.pk}?dry_run=true", {"action": "renew"}, format="json")
    preview = r.json()["data"]
    assert r.status_code == 200 and preview["drytry"] is True
    assert preview["money"] == "90.00"  # 3 x 30.0004 = 90.0012
    assert (
        preview["period_start"]
        == api.get(f"/usageapi/v1/orders/{order.pk}").json()["data"]["order"]["deadline"]
    )
    before = balance(account)
    r = api.put(f"/usageapi/v1/orders/{order.pk}", {"action": "renew"}, format="json")
    assert r.json()["data"]["money"] == "90.00"
    assert before - balance(account) == Decimal("90.0012")
    assert r.json()["data"]["order"]["deadline"] == preview["period_end"]


def test_cancel_preview_writes_nothing(api, running):
    _, order = running
    with nothing_written():
        r = api.put(f"/usageapi/v1/orders/{order.pk}?drytry=1", {"action": "cancel"}, format="json")
    data = r.json()["data"]
    assert (r.status_code, data["drytry"], data["money"], data["order"]["status"]) == (
        200,
        True,
        "0.00",
        "consuming",
    )
    assert api.put(f"/usageapi/v1/orders/{order.pk}", {"action": "cancel"}, format="json").status_code == 200
    with nothing_written():
        r = api.put(f"/usageapi/v1/orders/{order.pk}?drytry=1", {"action": "cancel"}, format="json")
    assert (r.status_code, r.json()["code"]) == (409, 3318)  # issue 23.3: the origin's "not consuming"


@pytest.mark.parametrize(
    "query, body",
    [
        ("drytry=2", {}),
        ("drytry=yes", {}),
        ("dry_run=maybe", {}),
        ("drytry=1&dry_run=0", {}),
        ("", {"drytry": "perhaps"}),
        ("", {"drytry": 7}),
        ("drytry=0", {"drytry": 1}),
    ],
)
def test_unknown_or_conflicting_drytry_is_3307_and_changes_nothing(api, running, query, body):
    _, order = running
    with nothing_written():
        r = api.put(
            f"/usageapi/v1/orders/{order.pk}?{query}",
            {"action": "modify", "plan_id": "vol-100g", **body},
            format="json",
        )
        assert (r.status_code, r.json()["code"]) == (400, 3307), r.content
        r = api.post(
            f"/usageapi/v1/orders?{query}",
            {"region": "cn-north-1", "plan_id": "vol-100g", **body},
            format="json",
        )
        assert (r.status_code, r.json()["code"]) == (400, 3307), r.content
    assert "drytry" in r.json()["msg"] or "dry_run" in r.json()["msg"]


def test_preview_errors_are_the_errors_of_the_real_call(api, running):
    _, order = running
    for body, code in (
        ({"action": "modify", "plan_id": "vol-50g"}, 3310),  # the current plan
        ({"action": "modify", "plan_id": "nope"}, 3315),
        ({"action": "modify"}, 3307),
        ({"action": "explode"}, 3307),
    ):
        with nothing_written():
            preview = api.put(f"/usageapi/v1/orders/{order.pk}?drytry=1", body, format="json")
        real = api.put(f"/usageapi/v1/orders/{order.pk}", body, format="json")
        assert preview.json()["code"] == real.json()["code"] == code, body
        assert preview.status_code == real.status_code


def test_the_guard_itself_sees_a_real_call(api, running):
    """``nothing_written`` can fail: the real modify inside it is caught (rows and on_commit)."""
    _, order = running
    with pytest.raises(AssertionError, match="wrote to"), nothing_written():
        api.put(f"/usageapi/v1/orders/{order.pk}", {"action": "modify", "plan_id": "vol-100g"}, format="json")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    price=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999.9999"), places=4),
    new_price=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999.9999"), places=4),
    qty=st.integers(min_value=1, max_value=40),
    hours=st.integers(min_value=0, max_value=24 * 60),
    raise_at_renewal=st.booleans(),
)
def test_service_previews_equal_the_operations(db, user, price, new_price, qty, hours, raise_at_renewal):
    """On random prices, quantities and moments: the modify and renew previews equal the money the
    operations then move (the quote functions are shared; this proves nothing else differs)."""
    n = next(_examples)
    account = account_of(user, "0")
    fund(account, "1000000")
    a = make_plan(f"a-{n}", str(price))
    b = make_plan(f"b-{n}", str(new_price))
    start = local(2026, 1, 31, 9)
    if raise_at_renewal:  # the renewal is priced at its period's start, the preview too
        add_price(a, str(price + 1), start + timedelta(days=20))
    created = purchase_order_create(
        account=account, creator=user, region="cn-north-1", plan_id=a.plan_id, quantities=qty, at=start
    ).order
    at = start + timedelta(hours=hours)
    _, renew = previews.purchase_renew_preview(order_pk=created.pk)
    before = ledger_total(account)
    result = purchase_order_renew(order_pk=created.pk, at=at)
    assert before - ledger_total(account) == renew.money == result.money
    _, switch = previews.purchase_modify_preview(order_pk=created.pk, plan_id=b.plan_id, at=at)
    before = ledger_total(account)
    done = purchase_order_modify(order_pk=created.pk, plan_id=b.plan_id, at=at)
    assert before - ledger_total(account) == switch.money == done.money
    assert (switch.credit, switch.price) == (done.credit, done.price)
    assert_ledger(account)
