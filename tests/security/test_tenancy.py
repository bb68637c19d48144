"""Issue 13 item 4: tenancy edge cases (docs/security.md, "Permissions and tenancy").

(a) membership is checked when money moves: a member removed from a shared namespace can no longer
pay, cancel or renew anything charged to it; (b) a personal namespace is never an existing shared
one; (c) client-chosen instance ids are unique per account, not globally; (d) GET requests never
create rows.
"""

from __future__ import annotations

import io
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from rest_framework.exceptions import PermissionDenied

from billing.acting import account_member_remove, money_caller
from billing.models import Account, LedgerEntry
from orders.models import PackageOrder, ProductInstance
from orders.vehicle import services as vehicle_services
from orders.vehicle.models import VehicleOrder
from orders.vehicle.placing import place_driver_order
from tests.billing.factories import funded_account, ledger_sum
from tests.conftest import mariadb_only
from tests.orders.package.factories import make_catalog

pytestmark = pytest.mark.django_db

VID, DID = "9b2f4c1e-7d8a-4b3c-9e1f-0a2b3c4d5e6f", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
DRIVER = {"namespace": "team", "vid": VID, "dids": [DID], "summary": 200, "payment": 200}


def code(resp: Any) -> tuple[int, int]:
    return resp.status_code, resp.json()["code"]


def _team(alice: Any, amount: str = "1000") -> Account:
    bob = get_user_model().objects.create_user(username="bob", password="x")
    account = funded_account("team", amount, member=alice)
    account.members.add(bob)
    return account


def _balance(account: Account) -> Decimal:
    account.refresh_from_db()
    assert account.balance == ledger_sum(account)
    return account.balance


# --- (a) membership at the moment of the money movement -------------------------------------------


def test_a_removed_member_cannot_pay_a_vehicle_order_of_the_shared_wallet(api: Any, user: Any) -> None:
    team = _team(user)
    placed = api.post("/api/v1/driver-orders", DRIVER, format="json")
    assert placed.status_code == 201, placed.json()
    order_id = placed.json()["data"]["order_id"]
    account_member_remove(account_id=team.pk, user=user)
    resp = api.post(f"/api/v1/orders/{order_id}/pay", format="json")
    assert code(resp) == (403, 3306) and "no longer a member" in resp.json()["msg"]
    assert _balance(team) == Decimal("1000") and LedgerEntry.objects.filter(account=team).count() == 1
    assert VehicleOrder.objects.get(order_id=order_id).state_code == 1


def test_a_removed_member_cannot_cancel_a_paid_vehicle_order(api: Any, user: Any) -> None:
    team = _team(user)
    order_id = api.post("/api/v1/driver-orders", DRIVER, format="json").json()["data"]["order_id"]
    assert api.post(f"/api/v1/orders/{order_id}/pay", format="json").status_code == 200
    assert _balance(team) == Decimal("800")
    account_member_remove(account_id=team.pk, user=user)
    assert code(api.post(f"/api/v1/orders/{order_id}/cancel", {}, format="json")) == (403, 3306)
    assert _balance(team) == Decimal("800")
    assert VehicleOrder.objects.get(order_id=order_id).state_code == 2


def test_a_request_that_found_the_order_before_the_removal_still_moves_nothing(user: Any) -> None:
    """The check is made by the posting itself, under the account lock: an order looked up while
    the caller was a member (a request in flight) is refused once the membership is gone."""
    team = _team(user)
    order = place_driver_order(
        owner=user, account=team, vid=VID, dids=[DID], summary=Decimal(200), payment=Decimal(200)
    )
    account_member_remove(account_id=team.pk, user=user)
    with money_caller(user), pytest.raises(PermissionDenied):
        vehicle_services.vehicle_order_pay(order_id=order.order_id, actor=user)
    assert _balance(team) == Decimal("1000")
    order.refresh_from_db()
    assert order.state_code == 1
    # the admin and the jobs record no caller: the same service works for them
    vehicle_services.vehicle_order_pay(order_id=order.order_id, actor=None)
    assert _balance(team) == Decimal("800")


def _package_body(ns: str, ext: str) -> dict[str, Any]:
    return {
        "app_id": "app-1",
        "order_user_id": ns,
        "order_user_name": "A",
        "description": "",
        "extra_info": "{}",
        "order_product_set": [
            {
                "prod_id": "vm",
                "prod_name": "VM",
                "prod_instance_ext_array": [{"id": ext, "is_auto_renew": 0}],
                "plan": {"plan_id": "vm-std", "attrs_id_value": [{"attr_id": "cpu", "attr_value": "2"}]},
            }
        ],
    }


def test_a_removed_member_cannot_charge_or_renew_package_orders(api: Any, user: Any) -> None:
    make_catalog()
    team = _team(user)
    unpaid = api.post("/api/v1/package-orders", _package_body("team", "t-1"), format="json").json()["data"]
    paid = api.post("/api/v1/package-orders", _package_body("team", "t-2"), format="json").json()["data"]
    assert api.post(f"/api/v1/package-orders/{paid['order_id']}/charge").status_code == 200
    before = _balance(team)
    entries = LedgerEntry.objects.filter(account=team).count()
    account_member_remove(account_id=team.pk, user=user)
    assert api.post(f"/api/v1/package-orders/{unpaid['order_id']}/charge").status_code in (403, 404)
    renew = {"charge_channel": "balance", "duration": "1"}
    assert api.post("/api/v1/instances/t-2/renew", renew, format="json").status_code in (403, 404)
    assert api.post("/api/v1/instances/t-2/stop").status_code in (403, 404)
    assert _balance(team) == before and LedgerEntry.objects.filter(account=team).count() == entries
    assert PackageOrder.objects.get(order_id=unpaid["order_id"]).status == "unpaid"


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_a_removal_racing_a_payment_is_seen_by_the_payment(user: Any, client_for: Any) -> None:
    """The removal holds the account lock while it commits; the payment waits for that lock and
    then reads the membership: refused, nothing charged."""
    team = _team(user)
    api = client_for(user)
    order_id = api.post("/api/v1/driver-orders", DRIVER, format="json").json()["data"]["order_id"]
    locked, answers = threading.Event(), []

    def remove() -> None:
        try:
            with transaction.atomic():
                Account.objects.select_for_update().get(pk=team.pk)
                team.members.remove(user)
                locked.set()
                time.sleep(0.5)
        finally:
            connection.close()

    def pay() -> None:
        try:
            locked.wait(5)
            answers.append(code(api.post(f"/api/v1/orders/{order_id}/pay", format="json")))
        finally:
            connection.close()

    threads = [threading.Thread(target=remove), threading.Thread(target=pay)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [(403, 3306)]
    assert _balance(team) == Decimal("1000")
    assert VehicleOrder.objects.get(order_id=order_id).state_code == 1


# --- (b) a personal namespace is never an existing shared namespace --------------------------------


def test_a_user_named_like_a_shared_namespace_is_not_made_a_member(make_user: Any, client_for: Any) -> None:
    bob = make_user("bob")
    team = funded_account("team", "100", member=bob)
    intruder = make_user("team")
    api = client_for(intruder)
    resp = api.get("/api/v1/billing/account")
    assert code(resp) == (403, 3306) and "existing shared namespace" in resp.json()["msg"]
    assert "100" not in resp.content.decode()
    assert code(api.post("/api/v1/driver-orders", {**DRIVER, "namespace": None}, format="json")) == (
        403,
        3306,
    )
    assert code(api.get("/api/v1/billing/account?namespace=team")) == (403, 3306)
    assert list(team.members.values_list("username", flat=True)) == ["bob"]
    assert api.get("/api/v1/me").json()["data"]["namespaces"] == []
    assert _balance(team) == Decimal("100") and VehicleOrder.objects.count() == 0


def test_create_api_user_refuses_a_username_that_is_a_shared_namespace(make_user: Any) -> None:
    team = funded_account("team", "0", member=make_user("bob"))
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_api_user", "team", stdout=io.StringIO())
    assert not get_user_model().objects.filter(username="team").exists()
    assert list(team.members.values_list("username", flat=True)) == ["bob"]
    call_command("create_api_user", "team", "--namespace", "team", stdout=io.StringIO())  # on purpose
    assert sorted(team.members.values_list("username", flat=True)) == ["bob", "team"]


def test_a_new_user_still_gets_a_personal_wallet_on_first_write(api: Any, user: Any) -> None:
    assert api.post("/api/v1/driver-orders", {**DRIVER, "namespace": None}, format="json").status_code == 201
    assert list(Account.objects.get(namespace="alice").members.all()) == [user]


# --- (c) client-chosen ids are unique per account ----------------------------------------------------


def test_instance_ids_are_unique_per_account_and_never_leak(
    api: Any, user: Any, make_user: Any, client_for: Any
) -> None:
    make_catalog()
    funded_account("alice", "1000", member=user)
    bob = make_user("bob")
    bob_account = funded_account("bob", "1000", member=bob)
    bob_api = client_for(bob)
    assert (
        bob_api.post("/api/v1/package-orders", _package_body("bob", "ecs-1"), format="json").status_code
        == 201
    )
    # alice may use the same id: not reserved by bob, and bob's existence is not revealed
    mine = api.post("/api/v1/package-orders", _package_body("alice", "ecs-1"), format="json")
    assert mine.status_code == 201, mine.json()
    again = api.post("/api/v1/package-orders", _package_body("alice", "ecs-1"), format="json")
    assert again.status_code == 400 and "already exists" in again.content.decode()
    assert ProductInstance.objects.filter(prod_inst_id_ext="ecs-1").count() == 2
    # each tenant's calls reach only its own instance
    order = api.post("/api/v1/package-orders", _package_body("alice", "ecs-2"), format="json").json()["data"]
    oid = ProductInstance.objects.get(account__namespace="alice", prod_inst_id_ext="ecs-1").order.order_id
    assert api.post(f"/api/v1/package-orders/{oid}/charge").status_code == 200
    assert order
    bob_before = _balance(bob_account)
    renew = {"charge_channel": "balance", "duration": "1"}
    assert api.post("/api/v1/instances/ecs-1/renew", renew, format="json").status_code == 200
    assert _balance(bob_account) == bob_before
    assert bob_api.post("/api/v1/instances/ecs-1/renew", renew, format="json").status_code in (
        400,
        409,
    )  # unpaid


def test_the_database_refuses_a_duplicate_id_in_one_account_only(user: Any, make_user: Any) -> None:
    from django.db import IntegrityError

    from tests.orders.package.factories import create_order
    from tests.orders.package.factories import funded_account as package_funded

    make_catalog()
    alice = package_funded("alice", "1000", member=user)
    bob = package_funded("bob", "1000", member=make_user("bob"))
    create_order(alice, ext="x-1")
    create_order(bob, ext="x-1")
    inst = ProductInstance.objects.get(account=alice, prod_inst_id_ext="x-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        ProductInstance.objects.filter(account=bob, prod_inst_id_ext="x-1").update(account=alice)
    assert inst.account_id == inst.order.account_id


# --- (d) GET requests never create rows --------------------------------------------------------------


def _rows() -> tuple[int, int, int]:
    return Account.objects.count(), Account.members.through.objects.count(), LedgerEntry.objects.count()


GETS = (
    "/api/v1/me",
    "/api/v1/billing/account",
    "/api/v1/billing/records",
    "/api/v1/billing/statements",
    "/api/v1/billing/statements/draft",
    "/api/v1/billing/credit-notes",
    "/api/v1/orders",
    "/api/v1/package-orders",
    "/usageapi/v1/orders",
    "/usageapi/v1/usages",
    "/usageapi/v1/speed",
)


def test_reading_a_wallet_that_does_not_exist_answers_zero_and_writes_nothing(api: Any) -> None:
    before = _rows()
    resp = api.get("/api/v1/billing/account")
    assert resp.status_code == 200, resp.json()
    data = resp.json()["data"]
    assert data["namespace"] == "alice" and Decimal(data["balance"]) == 0
    for path in GETS:
        assert api.get(path).status_code == 200, (path, api.get(path).json())
    assert _rows() == before == (0, 0, 0)
    assert "alice" in api.get("/api/v1/me").json()["data"]["namespaces"]
