"""``drytry=1`` on the package-order API: the same price as the real call, nothing written.

Issue 15: ``POST /api/v1/package-orders?drytry=1`` created an order. Create, instance renew and
change-config answer a preview inside ``nothing_written()`` (every row of every table and the
on_commit queue unchanged); the real call then moves exactly the previewed money. Every other
money-moving call refuses ``drytry=1`` with 3307 instead of doing the real thing.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.models import PackageOrder
from orders.package import previews
from orders.package.instances import instance_change_config
from orders.package.services import package_order_charge, package_order_create
from orders.package.specs import ComponentChange, InstanceSpec, ProductSpec
from plans.models import Product
from tests.orders.nothing_written import nothing_written
from tests.orders.package.factories import (
    T0,
    ComponentFactory,
    PlanFactory,
    PriceRuleFactory,
    ProductFactory,
    assert_balanced,
    funded_account,
    ledger_sum,
    make_catalog,
)
from tests.orders.package.test_api import create_body

pytestmark = pytest.mark.django_db
_examples = itertools.count()


@pytest.fixture
def setup(user):
    make_catalog()
    return funded_account("alice", "1000", member=user)


def paid_instance(api, ext: str = "i-1", cpu: str = "2") -> str:
    r = api.post("/api/v1/package-orders", create_body(ext=ext, cpu=cpu), format="json")
    oid = r.json()["data"]["order_id"]
    assert api.post(f"/api/v1/package-orders/{oid}/charge").status_code == 200
    return oid


def test_create_preview_writes_nothing_and_prices_what_the_charge_takes(api, setup):
    with nothing_written():
        r = api.post(
            "/api/v1/package-orders?drytry=1", create_body(), format="json", HTTP_IDEMPOTENCY_KEY="k"
        )
    assert r.status_code == 200, r.content
    preview = r.json()["data"]
    assert preview["drytry"] is True and preview["order_id"] is None
    assert preview["cost"] == preview["amount_payable"] == "31.2000"  # sys 30 + one hour of cpu 1.2
    assert {c["component_id"]: c["amount"] for c in preview["components"]} == {
        "sys": "30.0000",
        "cpu": "1.2000",
        "net": "0.0000",  # postpaid: billed after each period
    }
    r = api.post("/api/v1/package-orders", create_body(), format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert r.status_code == 201 and r.json()["data"]["cost"] == preview["cost"]
    before = ledger_sum(setup)
    api.post(f"/api/v1/package-orders/{r.json()['data']['order_id']}/charge")
    assert before - ledger_sum(setup) == Decimal(preview["cost"])
    assert PackageOrder.objects.count() == 1
    assert_balanced(setup)


def test_create_preview_checks_like_the_create(api, setup):
    paid_instance(api, ext="i-1")
    with nothing_written():
        r = api.post("/api/v1/package-orders?drytry=1", create_body(ext="i-1"), format="json")
    real = api.post("/api/v1/package-orders", create_body(ext="i-1"), format="json")
    assert r.status_code == real.status_code == 400
    assert r.json()["code"] == real.json()["code"] and r.json()["data"] == real.json()["data"]
    with nothing_written():
        r = api.post("/api/v1/package-orders?drytry=1", create_body(cpu="3"), format="json")  # no rule
    assert (
        r.json()["code"]
        == api.post("/api/v1/package-orders", create_body(cpu="3"), format="json").json()["code"]
    )


def test_renew_preview_writes_nothing_then_the_renewal_charges_it(api, setup):
    paid_instance(api)
    with nothing_written():
        r = api.post("/api/v1/instances/i-1/renew?drytry=1", {"duration": "3"}, format="json")
    assert r.status_code == 200, r.content
    preview = r.json()["data"]
    assert (preview["drytry"], preview["cycles"], preview["cost"]) == (True, 3, "90.0000")
    before = ledger_sum(setup)
    r = api.post("/api/v1/instances/i-1/renew", {"duration": "3"}, format="json")
    assert r.status_code == 200 and r.json()["data"]["cost"] == preview["cost"]
    assert before - ledger_sum(setup) == Decimal("90")
    detail = api.get(f"/api/v1/package-orders/{preview['order_id']}").json()["data"]
    sys_line = next(
        c for c in detail["instances"][0]["subscription"]["components"] if c["component_id"] == "sys"
    )
    assert sys_line["paid_until"] == preview["paid_until"]


@pytest.mark.parametrize("cpu, sign", [("4", 1), ("2", 0)])
def test_change_config_preview_equals_the_change(api, setup, cpu, sign):
    """The clock stands still for the test: the hourly part is prorated to the second, and the real
    call made a second after the preview would rightly cost a second less."""
    with mock.patch("django.utils.timezone.now", return_value=T0 + timedelta(days=400)):
        _change_config_preview_equals_the_change(api, setup, cpu, sign)


def _change_config_preview_equals_the_change(api, setup, cpu, sign):
    paid_instance(api, cpu="2" if sign else "4")
    body = {"plan_id": "vm-std", "component_infos": [{"component_id": "cpu", "attrs_id_value": [
        {"attr_id": "cpu", "attr_value": cpu}]}]}  # fmt: skip
    with nothing_written():
        r = api.post("/api/v1/instances/i-1/change-config", {**body, "drytry": True}, format="json")
    assert r.status_code == 200, r.content
    preview = r.json()["data"]
    net = Decimal(preview["cost"])
    assert (net > 0) if sign else (net < 0)
    assert Decimal(preview["amount_payable"]) - Decimal(preview["refund"]) == net
    before = ledger_sum(setup)
    r = api.post("/api/v1/instances/i-1/change-config", body, format="json")
    assert r.status_code == 200 and r.json()["data"]["cost"] == preview["cost"]
    assert before - ledger_sum(setup) == net
    assert_balanced(setup)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/package-orders/{oid}/charge",
        "/api/v1/package-orders/{oid}/cancel",
        "/api/v1/instances/i-2/stop",
        "/api/v1/instances/i-2/pause",
        "/api/v1/instances/i-2/resume",
        "/api/v1/meter-events",
        "/api/v1/meter-events/void",
    ],
)
def test_calls_without_a_preview_refuse_drytry(api, setup, path):
    """A stop refunds and bills; a charge charges: ``drytry=1`` there is 3307, never the real call."""
    paid_instance(api, ext="i-2")
    oid = api.post("/api/v1/package-orders", create_body(ext="i-3"), format="json").json()["data"]["order_id"]
    with nothing_written():
        r = api.post(path.format(oid=oid) + "?drytry=1", {}, format="json")
        assert (r.status_code, r.json()["code"]) == (400, 3307), r.content
        assert "drytry" in r.json()["data"]["errors"]
        r = api.post(path.format(oid=oid), {"dry_run": 1}, format="json")
        assert (r.status_code, r.json()["code"]) == (400, 3307), r.content


def test_bad_drytry_values_are_3307(api, setup):
    paid_instance(api)
    for query in ("drytry=2", "drytry=yes", "drytry=1&drytry=0"):
        with nothing_written():
            r = api.post(f"/api/v1/instances/i-1/renew?{query}", {"duration": "1"}, format="json")
        assert (r.status_code, r.json()["code"]) == (400, 3307), query


def db_catalog() -> None:
    """``db``: a prepaid monthly disk priced by size and an hourly cpu priced by count."""
    if Product.objects.filter(prod_id="db").exists():  # hypothesis examples share one transaction
        return
    db_product = ProductFactory(prod_id="db")
    plan = PlanFactory(plan_id="db-std", product=db_product)
    disk = ComponentFactory(product=db_product, component_id="disk", billing_mode="prepaid", cycle="month")
    cpu = ComponentFactory(product=db_product, component_id="cpu", billing_mode="hourly", cycle="hour")
    for size, price in (("s", "10"), ("m", "25.3333"), ("l", "99.9999")):
        PriceRuleFactory(plan=plan, component=disk, attrs={"size": size}, price=Decimal(price))
    for n, price in (("1", "0.3333"), ("8", "2.7")):
        PriceRuleFactory(plan=plan, component=cpu, attrs={"cpu": n}, price=Decimal(price))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    minutes=st.integers(min_value=0, max_value=60 * 24 * 30),
    size=st.tuples(st.sampled_from("sml"), st.sampled_from("sml")),
    cpu=st.tuples(st.sampled_from("18"), st.sampled_from("18")),
    seconds=st.integers(min_value=0, max_value=3599),
)
def test_change_preview_equals_the_change_at_any_moment(db, minutes, size, cpu, seconds):
    """Service level, random moments in the paid month and random attribute changes, up and down:
    preview net == what the change moves (prepaid prorated by the rest of the month, hourly by the
    rest of the paid hour)."""
    db_catalog()
    n = next(_examples)
    account = funded_account(f"p{n}", "1000")
    ext = f"i-{n}"
    created = package_order_create(
        account_id=account.pk,
        app_id="app",
        order_user_name="",
        description="",
        extra_info={},
        products=[
            ProductSpec(
                prod_id="db",
                plan_id="db-std",
                attrs={"size": size[0], "cpu": cpu[0]},
                instances=[InstanceSpec(prod_inst_id_ext=ext)],
            )
        ],
        at=T0,
    )
    package_order_charge(order_pk=created.order.pk, at=T0)
    # the hourly line's paid hour is the first one: a change inside it refunds/charges its rest
    at = T0 + timedelta(seconds=seconds) if minutes % 2 else T0 + timedelta(minutes=minutes)
    changes = [ComponentChange("disk", {"size": size[1]}), ComponentChange("cpu", {"cpu": cpu[1]})]
    _, quote = previews.instance_change_config_preview(
        prod_inst_id_ext=ext, plan_id="db-std", changes=changes, at=at
    )
    before = ledger_sum(account)
    result = instance_change_config(prod_inst_id_ext=ext, plan_id="db-std", changes=changes, at=at)
    assert before - ledger_sum(account) == quote.net == result.cost
    assert_balanced(account)
