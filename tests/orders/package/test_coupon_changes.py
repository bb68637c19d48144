"""A config change re-prices the rest of the paid span; the order's coupon applies to the part of it
in periods its duration covers (docs/package-orders.md "Coupons"): an upgrade's charge keeps the
list difference as gross with the coupon's share as ``discount``; a downgrade refunds the net
difference with no discount (never the coupon's share of the old price, which was not paid)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import LedgerEntry
from config.money import to_money
from orders.models import PackageOrderEvent
from orders.package import previews
from orders.package.instances import instance_change_config, instance_renew
from orders.package.specs import ComponentChange
from tests.orders.nothing_written import nothing_written
from tests.orders.package.coupon_box import box_order, funded, line_of, make_box, records_of
from tests.orders.package.factories import T0, assert_balanced, ledger_sum
from tests.plans.factories import PromotionFactory
from usage.audit import ledger_audit
from usage.models import UsageKind

pytestmark = pytest.mark.django_db
MID = T0 + timedelta(days=15)
_examples = itertools.count()


@pytest.fixture(autouse=True)
def catalog():
    make_box()


def change(size: str, at, ext: str = "b-1"):
    """Preview, then the change itself; both answer the same net (one code path)."""
    changes = [ComponentChange("sys", {"size": size})]
    _, quote = previews.instance_change_config_preview(
        prod_inst_id_ext=ext, plan_id="box-std", changes=changes, at=at
    )
    result = instance_change_config(prod_inst_id_ext=ext, plan_id="box-std", changes=changes, at=at)
    assert result.cost == quote.net
    record = max((r for r in records_of(ext) if r.kind == UsageKind.CHANGE), key=lambda r: r.pk)
    assert (record.amount, record.discount) == (quote.lines[0].amount, quote.lines[0].discount)
    return quote.lines[0].fraction, record


def test_an_upgrade_in_a_covered_period_takes_the_percent_off_the_charge():
    PromotionFactory(code="P10", value=Decimal("10"), components=["box/sys"], duration="forever")
    account = funded("alice")
    order = box_order(account, coupon="P10")
    before = ledger_sum(account)
    fraction, record = change("l", MID)
    assert fraction == Decimal(16 * 86400) / Decimal(31 * 86400)  # 10 Mar + 15 days .. 10 Apr
    gross = to_money(Decimal("30") * fraction)
    assert record.amount == to_money(Decimal("27") * fraction)
    assert record.discount == gross - record.amount > 0
    assert before - ledger_sum(account) == record.amount
    event = PackageOrderEvent.objects.get(order=order, reason="config_changed")
    assert event.data["discount"] == f"{record.discount:.4f}"
    assert_balanced(account)
    assert ledger_audit() == []


def test_a_downgrade_refunds_the_net_difference_with_no_discount():
    PromotionFactory(code="HALF", value=Decimal("50"), components=["box/sys"], duration="forever")
    account = funded("alice")
    box_order(account, coupon="HALF", size="l")  # sys 60, paid 30
    before = ledger_sum(account)
    fraction, record = change("s", MID)
    # from 30 net to 15 net a month: refunds 15 x the rest, not the list 30 x the rest
    assert (record.amount, record.discount) == (to_money(Decimal("-15") * fraction), Decimal("0"))
    assert ledger_sum(account) - before == -record.amount
    assert LedgerEntry.objects.filter(kind="refund").count() == 1
    assert_balanced(account)
    assert ledger_audit() == []


def test_a_period_the_coupon_no_longer_covers_changes_at_list_price():
    PromotionFactory(code="ONCE", value=Decimal("10"), components=["box/sys"], duration="once")
    account = funded("alice")
    box_order(account, coupon="ONCE")
    instance_renew(prod_inst_id_ext="b-1", duration="1", at=T0 + timedelta(days=20))
    at = line_of("b-1").paid_until - timedelta(days=10)  # inside period 2
    fraction, record = change("l", at)
    assert (record.amount, record.discount) == (to_money(Decimal("30") * fraction), Decimal("0"))
    assert ledger_audit() == []


def test_over_a_span_of_several_periods_only_the_covered_part_is_discounted():
    """``periods`` 2 and a renewal of 3 cycles (periods 2-4 paid): a change inside period 2 re-prices
    the rest of period 2 net and periods 3 and 4 at list."""
    PromotionFactory(
        code="TWO", value=Decimal("10"), components=["box/sys"], duration="periods", duration_periods=2
    )
    account = funded("alice")
    box_order(account, coupon="TWO")
    instance_renew(prod_inst_id_ext="b-1", duration="3", at=T0 + timedelta(days=20))
    at = T0 + timedelta(days=31 + 10)  # 20 Apr, inside period 2 (10 Apr .. 10 May)
    fraction, record = change("l", at)
    # each paid period by its own length: 20 of April-May's 30 days, then May-June and June-July whole
    assert fraction.quantize(Decimal("0.0001")) == Decimal("2.6667")
    covered = Decimal(20 * 86400) / Decimal(30 * 86400)  # the rest of period 2
    # periods 3 and 4 at the list 30, the rest of period 2 at the net 27: 60 + 18
    assert record.amount == to_money(Decimal("30") * (fraction - covered) + Decimal("27") * covered) == 78
    assert record.discount == to_money(Decimal("30") * fraction) - record.amount
    assert_balanced(account)
    assert ledger_audit() == []


def test_a_fixed_amount_already_taken_off_the_period_takes_nothing_more():
    PromotionFactory(
        code="FIVE", kind="amount", value=Decimal("5"), components=["box/sys"], duration="forever"
    )
    account = funded("alice")
    box_order(account, coupon="FIVE")
    fraction, record = change("l", MID)
    assert (record.amount, record.discount) == (to_money(Decimal("30") * fraction), Decimal("0"))


def test_the_change_preview_over_the_api_shows_the_discount_and_equals_the_change(api, user):
    PromotionFactory(code="P10", value=Decimal("10"), components=["box/sys"], duration="forever")
    account = funded("alice", member=user)
    box_order(account, coupon="P10")
    body = {"plan_id": "box-std", "component_infos": [{"component_id": "sys", "attrs_id_value": [
        {"attr_id": "size", "attr_value": "l"}]}]}  # fmt: skip
    from unittest import mock

    with mock.patch("django.utils.timezone.now", return_value=MID):
        with nothing_written():
            r = api.post("/api/v1/instances/b-1/change-config?drytry=1", body, format="json")
        assert r.status_code == 200, r.content
        preview = r.json()["data"]
        real = api.post("/api/v1/instances/b-1/change-config", body, format="json")
    assert real.status_code == 200 and real.json()["data"]["cost"] == preview["cost"]
    record = records_of("b-1")[-1]
    assert preview["discount"] == f"{record.discount:.4f}" and record.discount > 0
    assert preview["components"][0]["discount"] == preview["discount"]
    assert preview["components"][0]["amount"] == f"{record.amount:.4f}"


def test_a_span_of_several_periods_prorates_each_by_its_own_length():
    """Without a coupon: paid through period 2 (31 + 30 days), a downgrade a minute in refunds the
    difference of the two periods less a minute, not 61 days in the second period's 30-day unit."""
    account = funded("alice")
    box_order(account, size="l")
    instance_renew(prod_inst_id_ext="b-1", duration="1", at=T0 + timedelta(days=1))
    fraction, record = change("s", T0 + timedelta(minutes=1))
    assert fraction == Decimal(31 * 86400 - 60) / Decimal(31 * 86400) + 1
    assert record.amount == to_money(Decimal("-30") * fraction) and -record.amount < 60
    assert_balanced(account)
    assert ledger_audit() == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    promo=st.sampled_from(
        [("percent", "10"), ("percent", "50"), ("percent", "100"), ("amount", "5"), ("amount", "40")]
    ),
    duration=st.sampled_from([("once", None), ("periods", 2), ("forever", None)]),
    renewed=st.integers(min_value=0, max_value=3),
    minutes=st.integers(min_value=1, max_value=60 * 24 * 28),
    sizes=st.sampled_from([("s", "l"), ("l", "s")]),
)
def test_a_change_with_a_coupon_at_any_moment(catalog, promo, duration, renewed, minutes, sizes):
    """Random coupons, spans and moments, up and down: the preview is the change, a charge's
    discount is within its gross, a credit has none and never refunds more than the rest of the
    span cost net, and the ledger stays whole."""
    n = next(_examples)
    code = f"R{n}"
    PromotionFactory(code=code, kind=promo[0], value=Decimal(promo[1]), components=["box/sys"],
                     duration=duration[0], duration_periods=duration[1])  # fmt: skip
    account = funded(f"r{n}")
    ext = f"r-{n}"
    box_order(account, ext=ext, coupon=code, size=sizes[0])
    if renewed:
        instance_renew(prod_inst_id_ext=ext, duration=str(renewed), at=T0 + timedelta(days=1))
    at = T0 + timedelta(minutes=minutes)
    paid_net = sum((r.amount for r in records_of(ext)), Decimal(0))  # what sys cost, every period
    before = ledger_sum(account)
    fraction, record = change(sizes[1], at, ext=ext)
    gross = to_money((Decimal("60") - Decimal("30")) * fraction * (1 if sizes == ("s", "l") else -1))
    if gross > 0:
        assert Decimal(0) <= record.discount <= gross and record.amount + record.discount == gross
    else:
        assert record.discount == 0 and gross <= record.amount <= 0
        assert -record.amount <= paid_net
    assert before - ledger_sum(account) == record.amount
    assert_balanced(account)
    assert ledger_audit(namespace=f"r{n}") == []
