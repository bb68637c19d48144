"""R3: the same ``Idempotency-Key`` sent concurrently for create, charge and renew (docs/reliability.md).

Eight threads (eight database connections) release the same request at one barrier. Must show:
one effect (one order, one ledger entry, one period) and identical responses (status and body) for
every copy. Real concurrency needs MariaDB; the sequential replay variant runs on SQLite too.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import Account, LedgerEntry
from billing.services import account_credit, account_get_or_create
from config.money_sql import money_sum
from plans.models import BillingMode, Cycle, Plan, PriceVersion
from tests.conftest import mariadb_only

THREADS = 8


def make_plan() -> None:
    p, _ = Plan.objects.get_or_create(
        plan_id="r3-vol",
        defaults={
            "name": "r3",
            "plan_type": "volume",
            "region": "cn-north-1",
            "billing_mode": BillingMode.PREPAID,
            "cycle": Cycle.MONTH,
        },
    )
    PriceVersion.objects.get_or_create(
        plan=p, effective_from=datetime(2025, 1, 1, tzinfo=UTC), defaults={"price": Decimal("30")}
    )


def funded(user: Any, amount: str = "1000") -> Account:
    account = account_get_or_create(namespace=user.get_username(), member=user)
    account_credit(account_id=account.pk, amount=Decimal(amount), idempotency_key="r3:fund", memo="r3")
    return account


def assert_balanced(account: Account) -> None:
    account.refresh_from_db()
    total = money_sum(LedgerEntry.objects.filter(account=account))
    assert account.balance == total


def concurrently(token: str, send: Callable[[APIClient], Any], n: int = THREADS) -> list[tuple[int, Any]]:
    barrier = threading.Barrier(n)
    out: list[tuple[int, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            barrier.wait(timeout=30)
            resp = send(client)
            with lock:
                out.append((resp.status_code, json.loads(resp.content)))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(out) == n
    return out


def assert_identical(responses: list[tuple[int, Any]]) -> None:
    first = responses[0]
    assert all(r == first for r in responses), {json.dumps(r, sort_keys=True)[:300] for r in responses}
    assert first[0] in (200, 201), first


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_r3_create_purchase_order_same_key_concurrently(make_user):
    from orders.models import PurchaseOrder

    user = make_user("r3create")
    make_plan()
    account = funded(user)
    token = Token.objects.create(user=user).key
    body = {"region": "cn-north-1", "plan_id": "r3-vol", "parameters": {"resource_name": "r3-disk"}}
    responses = concurrently(
        token, lambda c: c.post("/usageapi/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="r3-create")
    )
    assert_identical(responses)
    assert PurchaseOrder.objects.filter(account=account).count() == 1
    assert LedgerEntry.objects.filter(account=account, kind="charge").count() == 1
    assert_balanced(account)


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_r3_renew_purchase_order_same_key_concurrently(make_user):
    from orders.models import PurchaseOrder
    from usage.models import UsageRecord

    user = make_user("r3renew")
    make_plan()
    account = funded(user)
    token = Token.objects.create(user=user).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    created = api.post("/usageapi/v1/orders", {"region": "cn-north-1", "plan_id": "r3-vol"}, format="json")
    assert created.status_code == 201, created.content
    order_id = created.json()["data"]["order"]["id"]
    deadline_before = PurchaseOrder.objects.get(pk=order_id).deadline
    responses = concurrently(
        token,
        lambda c: c.put(
            f"/usageapi/v1/orders/{order_id}",
            {"action": "renew"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="r3-renew",
        ),
    )
    assert_identical(responses)
    order = PurchaseOrder.objects.get(pk=order_id)
    assert order.deadline > deadline_before
    assert UsageRecord.objects.filter(order_ref=order.order_id).count() == 2  # first period + one renewal
    assert LedgerEntry.objects.filter(account=account, kind="charge").count() == 2
    assert_balanced(account)


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_r3_package_charge_same_key_concurrently(make_user):
    from orders.models import PackageOrder
    from tests.orders.package.factories import make_catalog

    user = make_user("alice")  # the package factories' catalog and body use namespace "alice"
    make_catalog()
    account = funded(user)
    token = Token.objects.create(user=user).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    body = {
        "app_id": "app-1",
        "order_user_id": "alice",
        "order_user_name": "Alice",
        "description": "r3",
        "extra_info": "{}",
        "order_product_set": [
            {
                "prod_id": "vm",
                "prod_name": "VM",
                "prod_instance_ext_array": [{"id": "r3-i-1", "is_auto_renew": 0}],
                "plan": {"plan_id": "vm-std", "attrs_id_value": [{"attr_id": "cpu", "attr_value": "2"}]},
            }
        ],
    }
    created = api.post("/api/v1/package-orders", body, format="json")
    assert created.status_code == 201, created.content
    oid = created.json()["data"]["order_id"]
    responses = concurrently(
        token, lambda c: c.post(f"/api/v1/package-orders/{oid}/charge", HTTP_IDEMPOTENCY_KEY="r3-charge")
    )
    assert_identical(responses)
    assert PackageOrder.objects.get(order_id=oid).status == "paid"
    assert LedgerEntry.objects.filter(account=account, kind="charge").count() == 1
    assert_balanced(account)


@pytest.mark.django_db
def test_r3_sequential_replays_are_identical_and_move_nothing(user, client_for):
    from orders.models import PurchaseOrder

    make_plan()
    account = funded(user)
    api = client_for(user)
    body = {"region": "cn-north-1", "plan_id": "r3-vol"}
    first = api.post("/usageapi/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="r3-seq")
    again = api.post("/usageapi/v1/orders", body, format="json", HTTP_IDEMPOTENCY_KEY="r3-seq")
    assert (first.status_code, first.json()) == (again.status_code, again.json())
    other = api.post(
        "/usageapi/v1/orders", body | {"quantities": 2}, format="json", HTTP_IDEMPOTENCY_KEY="r3-seq"
    )
    assert other.status_code == 409 and other.json()["code"] == 3320
    assert PurchaseOrder.objects.filter(account=account).count() == 1
    assert_balanced(account)
