"""Previews under real concurrency (MariaDB, threads, HTTP): ``drytry=1`` calls racing the real calls
take no lock the real calls wait for, write nothing, and never make a real call move money twice.

Twenty clients hit one purchase order at once: ten preview a switch, ten make it (five with one
Idempotency-Key). Exactly one switch happens and moves exactly the previewed money; every preview
answers either the quote (it ran before the switch committed) or the refusal the real call gives an
ended order. The same for an instance's renewal previewed while it is renewed.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import IdempotencyKey, LedgerEntry
from config.money_sql import money_sum
from orders.models import PurchaseOrder, PurchaseOrderStatus
from orders.package.services import package_order_charge
from orders.purchase.services import purchase_order_create
from tests.conftest import mariadb_only
from tests.orders.package.factories import create_order, funded_account, make_catalog
from tests.orders.purchase.helpers import account_of, make_plan

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def run_threads(n: int, target) -> list[BaseException]:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def wrapped(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted empty
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads)
    return errors


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_switch_previews_racing_the_switch(django_user_model):
    user = django_user_model.objects.create_user(username="alice", password="x")
    account = account_of(user, "500")
    make_plan("vol-50g", "30.0004")
    make_plan("vol-100g", "50")
    order = purchase_order_create(
        account=account,
        creator=user,
        region="cn-north-1",
        plan_id="vol-50g",
        at=timezone.now() - timedelta(days=9),
    ).order
    expected = client_of(user).put(
        f"/usageapi/v1/orders/{order.pk}?drytry=1", {"action": "modify", "plan_id": "vol-100g"}, format="json"
    )
    quote = expected.json()["data"]
    before = money_sum(LedgerEntry.objects.filter(account=account))
    answers: list[tuple[str, int, dict]] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        preview = i % 2 == 0
        headers = {"HTTP_IDEMPOTENCY_KEY": "switch-once"} if i % 4 == 1 else {}
        query = "?drytry=1" if preview else ""
        r = client_of(user).put(
            f"/usageapi/v1/orders/{order.pk}{query}",
            {"action": "modify", "plan_id": "vol-100g"},
            format="json",
            **headers,
        )
        with lock:
            answers.append(("preview" if preview else "real", r.status_code, r.json()))

    assert run_threads(20, call) == []
    real = Counter(status for kind, status, _ in answers if kind == "real")
    assert real[200] >= 1 and set(real) <= {200, 409}
    switches = PurchaseOrder.objects.filter(switched_from=order)
    assert switches.count() == 1  # one switch, whatever the replays
    assert before - money_sum(LedgerEntry.objects.filter(account=account)) == Decimal(quote["money"])
    for kind, status, body in answers:
        if status == 200:
            assert (body["data"]["money"], body["data"]["credit"]) == (quote["money"], quote["credit"]), kind
        else:
            assert (status, body["code"]) == (409, 3310), (kind, body)
    assert PurchaseOrder.objects.get(pk=order.pk).status == PurchaseOrderStatus.ENDED
    assert IdempotencyKey.objects.count() == 1  # previews store none
    account.refresh_from_db()
    assert account.balance == money_sum(LedgerEntry.objects.filter(account=account))


def test_renew_previews_racing_renewals(django_user_model):
    user = django_user_model.objects.create_user(username="bob", password="x")
    make_catalog()
    account = funded_account("bob", "1000", member=user)
    package = create_order(account, ext="i-9", at=timezone.now())
    package_order_charge(order_pk=package.order.pk)
    quote = client_of(user).post("/api/v1/instances/i-9/renew?drytry=1", {"duration": "2"}, format="json")
    cost = quote.json()["data"]["cost"]
    before = money_sum(LedgerEntry.objects.filter(account=account))
    answers: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        preview = i % 2 == 0
        query = "?drytry=1" if preview else ""
        headers = {"HTTP_IDEMPOTENCY_KEY": "renew-once"} if not preview else {}
        r = client_of(user).post(
            f"/api/v1/instances/i-9/renew{query}", {"duration": "2"}, format="json", **headers
        )
        with lock:
            answers.append(
                ("preview" if preview else "real", r.status_code, r.json()["data"].get("cost", ""))
            )

    assert run_threads(12, call) == []
    # every real call carried the same key: one renewal, replayed to the others
    assert Counter((k, s) for k, s, _ in answers) == {("preview", 200): 6, ("real", 200): 6}
    assert {c for k, _, c in answers if k == "real"} == {cost}
    assert before - money_sum(LedgerEntry.objects.filter(account=account)) == Decimal(cost)
    account.refresh_from_db()
    assert account.balance == money_sum(LedgerEntry.objects.filter(account=account))
