"""Issue 13 item 3: staff powers are permissions, never the ``is_staff`` flag.

A bare staff account (``is_staff`` and nothing else) gets 403/3306 on every staff power of the API
and changes nothing; each permission opens exactly its own power; the Finance group (and the
``finance`` login ``load_demo`` prints) holds what finance needs and no more. The matrix is in
docs/security.md, "Permissions and tenancy".
"""

from __future__ import annotations

import importlib
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.core.management import call_command

from billing.models import Account, LedgerEntry
from config import clock
from config.admin_tools import FINANCE_GROUP, sync_finance_group
from orders.vehicle.models import VehicleOrder
from plans import demo as plans_demo
from plans.catalog import catalog_import
from plans.models import Plan, PriceVersion
from tests.billing.factories import funded_account, ledger_sum
from tests.conftest import grant_permissions
from tests.orders.vehicle.factories import make_driver_order, make_plan_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def bare_staff(make_user: Any) -> Any:
    return make_user("bare", staff=True)


@pytest.fixture
def bob(make_user: Any) -> Any:
    user = make_user("bob")
    funded_account("bob", "500", member=user)
    return user


def denied(resp: Any) -> dict[str, Any]:
    body = resp.json()
    assert resp.status_code == 403 and body["code"] == 3306, body
    return body


def test_bare_staff_cannot_change_the_catalog(bare_staff: Any, client_for: Any) -> None:
    catalog_import(plans_demo.demo_document())
    api = client_for(bare_staff)
    versions = PriceVersion.objects.count()
    body = {"plan_id": "x1", "name": "X", "plan_type": "volume", "billing_mode": "prepaid", "cycle": "month"}
    forced = {"price": "0.01", "effective_from": (clock.now() + timedelta(days=3)).isoformat(), "force": True}
    denied(api.post("/api/v1/plans/vol-50g/prices", forced, format="json"))
    denied(api.post("/api/v1/plans", body, format="json"))
    denied(api.patch("/api/v1/plans/vol-50g", {"name": "Y"}, format="json"))
    denied(api.get("/api/v1/catalog"))
    denied(api.post("/api/v1/plans/sync", {}, format="json"))
    assert PriceVersion.objects.count() == versions
    assert not Plan.objects.filter(plan_id="x1").exists()
    assert Plan.objects.get(plan_id="vol-50g").name == "Volume 50G"
    assert api.get("/api/v1/plans").status_code == 200  # reads stay open to everyone signed in


def test_each_catalog_permission_opens_only_its_call(bare_staff: Any, client_for: Any) -> None:
    catalog_import(plans_demo.demo_document())
    pricer = grant_permissions(bare_staff, "plans.add_priceversion")
    api = client_for(pricer)
    soon = (clock.now() + timedelta(days=3)).isoformat()
    forced = {"price": "11.00", "effective_from": soon, "force": True}
    resp = api.post("/api/v1/plans/vol-50g/prices", forced, format="json")
    assert resp.status_code == 201 and resp.json()["data"]["forced"] is True
    body = {"plan_id": "x1", "name": "X", "plan_type": "volume", "billing_mode": "prepaid", "cycle": "month"}
    assert "plans.add_plan" in denied(api.post("/api/v1/plans", body, format="json"))["msg"]
    denied(api.patch("/api/v1/plans/vol-50g", {"name": "Y"}, format="json"))
    writer = grant_permissions(pricer, "plans.add_plan", "plans.change_plan")
    assert client_for(writer).post("/api/v1/plans", body, format="json").status_code == 201
    assert client_for(writer).patch("/api/v1/plans/x1", {"name": "Y"}, format="json").status_code == 200


def test_a_permission_without_the_staff_flag_grants_nothing(make_user: Any, client_for: Any) -> None:
    catalog_import(plans_demo.demo_document())
    user = grant_permissions(make_user("carol"), "plans.add_priceversion", "billing.view_any_account")
    funded_account("team", "9")
    api = client_for(user)
    forced = {"price": "0.01", "effective_from": (clock.now() + timedelta(days=3)).isoformat(), "force": True}
    denied(api.post("/api/v1/plans/vol-50g/prices", forced, format="json"))
    denied(api.get("/api/v1/billing/account?namespace=team"))


def test_bare_staff_neither_reads_nor_acts_on_another_namespace(
    bare_staff: Any, bob: Any, client_for: Any
) -> None:
    order = make_driver_order(bob, summary="200.00")
    bob_account = Account.objects.get(namespace="bob")
    api = client_for(bare_staff)
    for path in (
        "/api/v1/billing/account?namespace=bob",
        "/api/v1/billing/records?namespace=bob",
        "/api/v1/billing/statements?namespace=bob",
        "/usageapi/v1/orders?namespace=bob",
    ):
        assert "500" not in denied(api.get(path))["msg"]
    denied(api.post("/api/v1/driver-orders", {"namespace": "bob", "vid": str(order.vid)}, format="json"))
    # another tenant's object by id: 404 as for anyone (its existence is not confirmed)
    assert api.get(f"/api/v1/orders/{order.order_id}").status_code == 404
    assert api.post(f"/api/v1/orders/{order.order_id}/pay", format="json").status_code == 404
    assert api.get("/api/v1/orders").json()["data"]["total"] == 0
    assert VehicleOrder.objects.count() == 1
    bob_account.refresh_from_db()
    assert bob_account.balance == ledger_sum(bob_account) == Decimal("500")


def test_view_any_account_reads_but_does_not_act(bare_staff: Any, bob: Any, client_for: Any) -> None:
    order = make_driver_order(bob, summary="200.00")
    api = client_for(grant_permissions(bare_staff, "billing.view_any_account"))
    resp = api.get("/api/v1/billing/account?namespace=bob")
    assert resp.status_code == 200 and resp.json()["data"]["balance"] == "500.0000"
    assert api.get(f"/api/v1/orders/{order.order_id}").status_code == 200
    assert api.get("/api/v1/orders").json()["data"]["total"] == 1
    assert (
        "act_for_any_account"
        in denied(api.post(f"/api/v1/orders/{order.order_id}/pay", format="json"))["msg"]
    )
    denied(api.post(f"/api/v1/orders/{order.order_id}/cancel", {}, format="json"))
    denied(api.post("/api/v1/driver-orders", {"namespace": "bob"}, format="json"))
    account = Account.objects.get(namespace="bob")
    assert account.balance == ledger_sum(account) == Decimal("500")
    assert LedgerEntry.objects.filter(account=account).count() == 1
    order.refresh_from_db()
    assert order.state_code == 1


def test_act_for_any_account_acts(bare_staff: Any, bob: Any, client_for: Any) -> None:
    order = make_driver_order(bob, summary="200.00")
    api = client_for(grant_permissions(bare_staff, "billing.act_for_any_account"))
    resp = api.post(f"/api/v1/orders/{order.order_id}/pay", format="json")
    assert resp.status_code == 200, resp.json()
    account = Account.objects.get(namespace="bob")
    assert account.balance == ledger_sum(account) == Decimal("300")


def test_underwriting_is_its_own_permission(bare_staff: Any, make_user: Any, client_for: Any) -> None:
    from tests.orders.vehicle.factories import fund

    owner = make_user("dave")
    fund(owner, "2000")
    order = make_plan_order(owner)
    assert client_for(owner).post(f"/api/v1/orders/{order.order_id}/pay", format="json").status_code == 200
    url = f"/api/v1/orders/{order.order_id}/underwrite"
    assert (
        "underwrite_vehicleorder"
        in denied(client_for(bare_staff).post(url, {"result": "approved"}, format="json"))["msg"]
    )
    viewer = grant_permissions(make_user("viewer", staff=True), "billing.act_for_any_account")
    denied(client_for(viewer).post(url, {"result": "approved"}, format="json"))
    order.refresh_from_db()
    assert order.state_code == 2
    underwriter = grant_permissions(bare_staff, "orders.underwrite_vehicleorder")
    resp = client_for(underwriter).post(url, {"result": "approved"}, format="json")
    assert resp.status_code == 200 and resp.json()["data"]["state_code"] == 3


def _codenames(group: Group) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }


FINANCE_HAS = {"billing.view_any_account", "orders.underwrite_vehicleorder", "plans.view_plan"}
FINANCE_HAS_NOT = {
    "billing.act_for_any_account",
    "plans.add_plan",
    "plans.change_plan",
    "plans.add_priceversion",
}


def test_the_finance_group_holds_what_finance_needs() -> None:
    codenames = _codenames(sync_finance_group())
    assert FINANCE_HAS <= codenames and not FINANCE_HAS_NOT & codenames


def test_the_data_migration_grants_view_any_account_to_finance() -> None:
    group = sync_finance_group()
    group.permissions.remove(*group.permissions.filter(codename="view_any_account"))
    migration = importlib.import_module("orders.migrations.0009_finance_view_any_account")
    migration.grant(django_apps, None)
    assert "billing.view_any_account" in _codenames(Group.objects.get(name=FINANCE_GROUP))


def test_the_printed_finance_login_has_the_finance_powers(client_for: Any) -> None:
    call_command("load_demo", stdout=io.StringIO())
    from django.contrib.auth import get_user_model

    finance = get_user_model().objects.get(username="finance")
    assert finance.groups.filter(name=FINANCE_GROUP).exists()
    assert finance.has_perm("billing.view_any_account") and finance.has_perm("orders.underwrite_vehicleorder")
    assert not finance.has_perm("billing.act_for_any_account") and not finance.has_perm(
        "plans.add_priceversion"
    )
    api = client_for(finance)
    resp = api.get("/api/v1/billing/account?namespace=demo")
    assert resp.status_code == 200, resp.json()
    assert Decimal(resp.json()["data"]["balance"]) == Account.objects.get(namespace="demo").balance
    denied(api.post("/api/v1/driver-orders", {"namespace": "demo"}, format="json"))
