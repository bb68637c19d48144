"""Package renewals keep applying the order's coupon for its duration (issue 20.1; docs/package-orders.md
"Coupons"): the auto-renew beat (``run_billing --at`` at successive moments, and its chunks of many
orders), the manual renew and its preview, and the admin renew action discount the renewed periods
of the components the promotion targets while its duration covers them, each period on its own;
the discount is its own amount on the records, in the event and in the preview. The admin renew
action: tests/admin/test_package_coupon_renew.py."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from billing.models import LedgerEntry, Redemption
from orders.models import PackageOrderEvent
from orders.package import previews
from orders.package.auto_renew import package_auto_renew_run
from orders.package.instances import instance_renew
from plans.models import Promotion
from tests.orders.nothing_written import nothing_written
from tests.orders.package.coupon_box import box_order, funded, line_of, make_box, records_of
from tests.orders.package.factories import T0, assert_balanced, ledger_sum
from tests.plans.factories import PromotionFactory
from usage.audit import ledger_audit
from usage.models import UsageKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def catalog():
    make_box()


def sys_promo(code: str = "SYS10", **kw) -> Promotion:
    """10 % off ``box/sys`` (3 of its 30); ``disk`` is not targeted."""
    return PromotionFactory(code=code, value=Decimal("10"), components=["box/sys"], **kw)


@pytest.mark.parametrize(
    ("duration", "n", "discounts"),
    [
        ("once", None, ["3", "0", "0", "0", "0"]),
        ("periods", 3, ["3", "3", "3", "0", "0"]),
        ("forever", None, ["3", "3", "3", "3", "3"]),
    ],
)
def test_run_billing_renews_with_the_coupon_for_its_duration(duration, n, discounts):
    # the window closes an hour after the create: the order keeps what it redeemed
    promo = sys_promo(duration=duration, duration_periods=n, valid_until=T0 + timedelta(hours=1))
    account = funded("alice")
    order = box_order(account, coupon="sys10", auto_renew=True)
    for run in range(4):
        if run == 2:  # set inactive half-way: still applied to an order that redeemed it
            Promotion.objects.filter(pk=promo.pk).update(status="inactive")
        at = line_of("b-1").next_run_at + timedelta(minutes=1)
        out = StringIO()
        call_command("run_billing", "--at", at.isoformat(), stdout=out)
        assert "renewed 1" in out.getvalue(), out.getvalue()
        assert ledger_audit() == []
        assert line_of("b-1").periods_billed == run + 2
    sys_records = records_of("b-1")
    assert [r.kind for r in sys_records] == [UsageKind.NEW] + [UsageKind.RENEW] * 4
    assert [r.discount for r in sys_records] == [Decimal(d) for d in discounts]
    assert [r.amount for r in sys_records] == [Decimal("30") - Decimal(d) for d in discounts]
    disk = records_of("b-1", "disk")
    assert [(r.amount, r.discount) for r in disk] == [(Decimal("10"), Decimal("0"))] * 5  # not targeted
    paid = sum((r.amount for r in sys_records + disk), Decimal(0))
    assert ledger_sum(account) == Decimal("1000") - paid
    assert_balanced(account)
    events = PackageOrderEvent.objects.filter(order=order, reason="auto_renewed").order_by("pk")
    assert [e.data.get("discount") for e in events] == [
        None if d == "0" else f"{Decimal(d):.4f}" for d in discounts[1:]
    ]
    covered = [e.data.get("discounted_periods") for e in events]
    assert covered == [None if d == "0" else {"sys": [i + 2]} for i, d in enumerate(discounts[1:])]
    assert Redemption.objects.count() == 1  # renewals apply the redemption, they add none


def test_manual_renew_of_three_cycles_discounts_only_the_covered_ones():
    """``periods`` 2: the create's period is 1, the renewal pays 2, 3, 4: only 2 is discounted."""
    sys_promo(code="TWO", duration="periods", duration_periods=2)
    account = funded("alice")
    order = box_order(account, coupon="TWO")
    result = instance_renew(prod_inst_id_ext="b-1", duration="3", at=T0 + timedelta(days=3))
    assert result.cost == Decimal("87") + Decimal("30")  # sys 90 - 3, disk 30
    renewed = records_of("b-1")[-1]
    assert (renewed.quantity, renewed.unit_price) == (Decimal("3"), Decimal("30"))
    assert (renewed.amount, renewed.discount) == (Decimal("87"), Decimal("3"))
    assert records_of("b-1", "disk")[-1].discount == Decimal("0")
    event = PackageOrderEvent.objects.get(order=order, reason="renewed")
    assert (event.data["discount"], event.data["discounted_periods"]) == ("3.0000", {"sys": [2]})
    assert (event.data["amount"], event.data["cycles"]) == ("117.0000", 3)
    # the next renewal is periods 5..: nothing covered any more
    again = instance_renew(prod_inst_id_ext="b-1", duration="2", at=T0 + timedelta(days=4))
    assert again.cost == Decimal("80")
    assert records_of("b-1")[-1].discount == Decimal("0")
    assert ledger_sum(account) == Decimal("1000") - Decimal("37") - Decimal("117") - Decimal("80")
    assert_balanced(account)
    assert ledger_audit() == []


def test_the_discount_never_exceeds_the_gross():
    """A fixed 50 off each covered period of a 30 component: each period is free, never negative."""
    PromotionFactory(
        code="BIG", kind="amount", value=Decimal("50"), components=["box/sys"], duration="forever"
    )
    account = funded("alice")
    box_order(account, coupon="BIG")
    result = instance_renew(prod_inst_id_ext="b-1", duration="3", at=T0 + timedelta(days=3))
    assert result.cost == Decimal("30")  # disk only
    renewed = records_of("b-1")[-1]
    assert (renewed.amount, renewed.discount) == (Decimal("0"), Decimal("90"))
    assert_balanced(account)
    assert ledger_audit() == []


def test_the_renew_preview_equals_the_renewal(api, user):
    sys_promo(code="TWO", duration="periods", duration_periods=2)
    account = funded("alice", member=user)
    box_order(account, coupon="TWO")
    with nothing_written():
        r = api.post("/api/v1/instances/b-1/renew?drytry=1", {"duration": "3"}, format="json")
    assert r.status_code == 200, r.content
    preview = r.json()["data"]
    assert (preview["cost"], preview["discount"]) == ("117.0000", "3.0000"), preview
    shown = {c["component_id"]: (c["amount"], c.get("discount")) for c in preview["components"]}
    assert shown == {"sys": ("87.0000", "3.0000"), "disk": ("30.0000", None)}
    before = ledger_sum(account)
    real = api.post("/api/v1/instances/b-1/renew", {"duration": "3"}, format="json")
    assert real.status_code == 200 and real.json()["data"]["cost"] == preview["cost"]
    assert before - ledger_sum(account) == Decimal(preview["cost"])
    written = {
        c: (f"{records_of('b-1', c)[-1].amount:.4f}", records_of("b-1", c)[-1].discount) for c in shown
    }
    assert written == {"sys": ("87.0000", Decimal("3")), "disk": ("30.0000", Decimal("0"))}
    # past the duration the preview has no discount key at all (the answer keeps its old shape)
    later = api.post("/api/v1/instances/b-1/renew?drytry=1", {"duration": "1"}, format="json").json()["data"]
    assert "discount" not in later and later["cost"] == "40.0000"
    assert all("discount" not in c for c in later["components"])


def test_the_service_preview_is_the_renewal_at_every_step():
    """``instance_renew_preview`` and ``instance_renew`` price through ``quote_renew``: step by
    step over a ``periods`` 3 coupon, each preview is exactly what the renewal then writes."""
    sys_promo(code="THREE", duration="periods", duration_periods=3)
    account = funded("alice")
    box_order(account, coupon="THREE")
    for duration, discount in (("1", "3"), ("2", "3"), ("1", "0")):
        _, quote = previews.instance_renew_preview(prod_inst_id_ext="b-1", duration=duration)
        result = instance_renew(prod_inst_id_ext="b-1", duration=duration, at=T0)
        assert (result.cost, quote.discount) == (quote.total, Decimal(discount))
        assert records_of("b-1")[-1].discount == Decimal(discount)
    assert ledger_audit() == []


def test_the_auto_renew_chunk_with_and_without_coupons():
    """Many orders over a few chunks: each renews once with its own order's promotion."""
    sys_promo(code="FOREVER", duration="forever")
    sys_promo(code="ONCE", duration="once")
    kinds = ["FOREVER", None, "ONCE", None, "FOREVER", "ONCE", None, "FOREVER", "FOREVER", None, None]
    accounts = [funded(f"acct{i % 4}") for i in range(4)]
    for i, coupon in enumerate(kinds):
        box_order(accounts[i % 4], ext=f"b-{i}", coupon=coupon, auto_renew=True)
    at = line_of("b-0").next_run_at + timedelta(minutes=1)
    assert package_auto_renew_run(at=at, chunk_size=3) == {"renewed": len(kinds)}
    assert package_auto_renew_run(at=at, chunk_size=3) == {}  # nothing due twice
    for i, coupon in enumerate(kinds):
        first, renewed = records_of(f"b-{i}")
        expected = Decimal("3") if coupon == "FOREVER" else Decimal("0")
        assert first.discount == (Decimal("3") if coupon else Decimal("0")), i
        assert (renewed.amount, renewed.discount) == (Decimal("30") - expected, expected), i
    for account in accounts:
        assert_balanced(account)
    assert LedgerEntry.objects.filter(kind="charge").count() == 2 * len(kinds)
    assert Redemption.objects.count() == kinds.count("FOREVER") + kinds.count("ONCE")
    assert ledger_audit() == []


def test_the_bills_list_shows_each_bills_discount_beside_its_net_amount(api, user):
    """``GET /api/v1/bills``: a discounted bill's ``discount`` and net ``amount``, and 0 on a bill
    the promotion does not target."""
    account = funded("alice", member=user)
    sys_promo()
    order = box_order(account, coupon="sys10")
    bills = api.get(f"/api/v1/bills?order_id={order.order_id}").json()["data"]["results"]
    by_component = {bill["component_id"]: bill for bill in bills}
    assert (by_component["sys"]["amount"], by_component["sys"]["discount"]) == ("27.0000", "3.0000")
    assert (by_component["disk"]["amount"], by_component["disk"]["discount"]) == ("10.0000", "0.0000")
