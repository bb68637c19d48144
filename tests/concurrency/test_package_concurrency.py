"""Package orders on MariaDB with real threads: 100 concurrent charges of one order, and the
billing-job runner executed by two workers at once (each period billed exactly once)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from billing.models import Account, LedgerEntry
from orders.jobs import billing_jobs_run
from orders.models import PackageOrder, SubscriptionLine
from orders.package.services import package_order_charge
from tests.conftest import mariadb_only
from tests.orders.package.factories import T0, create_order, funded_account, make_catalog
from usage.models import MeterEvent, UsageRecord

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]


def ledger_sum(account_id: int) -> Decimal:
    return sum(LedgerEntry.objects.filter(account_id=account_id).values_list("amount", flat=True), Decimal(0))


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


def test_100_concurrent_charges_make_one_ledger_entry_and_one_answer(django_user_model):
    make_catalog()
    user = django_user_model.objects.create_user(username="alice", password="x")
    account = funded_account("alice", "1000", member=user)
    order = create_order(account).order
    token = Token.objects.create(user=user).key
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        headers = {"HTTP_IDEMPOTENCY_KEY": "charge-once"} if i % 2 else {}
        r = client.post(f"/api/v1/package-orders/{order.order_id}/charge", **headers)
        with lock:
            answers.append((r.status_code, r.json()))

    errors = run_threads(100, call)
    assert errors == []
    assert len(answers) == 100
    assert Counter(status for status, _ in answers) == {200: 100}
    bodies = {repr(sorted(body["data"].items())) for _, body in answers}
    assert len(bodies) == 1, bodies
    charges = LedgerEntry.objects.filter(account=account, kind="charge")
    assert charges.count() == 1 and charges.get().amount == Decimal("-31.2000")
    assert answers[0][1]["data"]["ledger_entry_id"] == charges.get().pk
    assert PackageOrder.objects.get(pk=order.pk).status == "paid"
    account.refresh_from_db()
    assert account.balance == ledger_sum(account.pk) == Decimal("968.8000")


def test_two_workers_run_the_billing_jobs_at_once_and_bill_each_period_once():
    make_catalog()
    accounts = [funded_account(f"acc{a}", "1000") for a in range(4)]
    for a, account in enumerate(accounts):
        for k in range(5):
            ext = f"i-{a}-{k}"
            order = create_order(account, ext=ext).order
            package_order_charge(order_pk=order.pk, at=T0)
            net = SubscriptionLine.objects.get(
                subscription__product_instance__prod_inst_id_ext=ext, component_id="net"
            )
            MeterEvent.objects.create(
                account=account,
                event_id=f"e-{ext}",
                line_id=net.pk,
                instance_ref=ext,
                component_id="net",
                quantity=Decimal("2"),
                timestamp=T0 + timedelta(minutes=3),
            )
    at = T0 + timedelta(hours=2, minutes=1)
    summaries: list[dict] = []

    def worker(i: int) -> None:
        summaries.append(billing_jobs_run(at=at, chunk_size=3))

    errors = run_threads(2, worker)
    assert errors == []
    billing_jobs_run(at=at)  # a third run picks up whatever a busy account made the workers leave
    lines = 20
    hourly = UsageRecord.objects.filter(kind="hourly")
    usage = UsageRecord.objects.filter(kind="usage")
    assert hourly.count() == 2 * lines  # hours 2 and 3 charged ahead
    assert usage.count() == 2 * lines  # postpaid hours 1 and 2 billed
    assert hourly.values("line_id", "period_key").distinct().count() == hourly.count()
    assert sum(s.get("hourly_charged", 0) for s in summaries) <= 2 * lines
    for account in accounts:
        account.refresh_from_db()
        assert account.balance == ledger_sum(account.pk)
        # 5 x (31.2 first + 2 x 1.2 hours + 1.0 metered)
        assert account.balance == Decimal("1000") - 5 * (Decimal("31.2") + Decimal("2.4") + Decimal("1.0"))
    assert Account.objects.count() == 4


def test_two_workers_auto_renew_each_instance_once():
    from orders.jobs import package_auto_renew_run

    make_catalog()
    account = funded_account("auto", "1000")
    for k in range(6):
        order = create_order(account, ext=f"a-{k}", auto_renew=True).order
        package_order_charge(order_pk=order.pk, at=T0)
    due = SubscriptionLine.objects.filter(component_id="sys").first().next_run_at
    at = due + timedelta(minutes=1)

    errors = run_threads(2, lambda i: package_auto_renew_run(at=at))
    assert errors == []
    renew = UsageRecord.objects.filter(kind="renew")
    assert renew.count() == 6 and renew.values("line_id").distinct().count() == 6
    assert set(
        SubscriptionLine.objects.filter(component_id="sys").values_list("periods_billed", flat=True)
    ) == {2}
    account.refresh_from_db()
    assert (
        account.balance == ledger_sum(account.pk) == Decimal("1000") - 6 * Decimal("31.2") - 6 * Decimal("30")
    )


def test_concurrent_meter_batches_with_the_same_event_ids_store_each_once():
    from orders.package.metering import meter_events_ingest

    make_catalog()
    account = funded_account("meter", "100")
    order = create_order(account, ext="m-1").order
    package_order_charge(order_pk=order.pk, at=T0)
    ts = (T0 + timedelta(minutes=1)).isoformat()
    events = [
        {"event_id": f"ev-{j}", "instance": "m-1", "component_id": "net", "quantity": "1", "timestamp": ts}
        for j in range(500)
    ]
    results = []

    def ingest(i: int) -> None:
        results.append(meter_events_ingest(account_id=account.pk, events=events))

    errors = run_threads(4, ingest)
    assert errors == []
    assert sum(r.accepted for r in results) == 500
    assert sum(r.accepted + r.duplicates for r in results) == 2000
    assert MeterEvent.objects.filter(account=account).count() == 500


def test_stop_while_the_runner_bills_the_same_account():
    from orders.package.lifecycle import instance_stop

    make_catalog()
    account = funded_account("mix", "1000")
    for k in range(6):
        order = create_order(account, ext=f"s-{k}").order
        package_order_charge(order_pk=order.pk, at=T0)
    at = T0 + timedelta(hours=1, minutes=30)

    def work(i: int) -> None:
        if i == 0:
            billing_jobs_run(at=at, chunk_size=2)
        else:
            instance_stop(prod_inst_id_ext=f"s-{i}", at=at)

    errors = run_threads(4, work)
    assert errors == []
    billing_jobs_run(at=at)
    account.refresh_from_db()
    assert account.balance == ledger_sum(account.pk)
    records = UsageRecord.objects.all()
    assert records.values("line_id", "period_key").distinct().count() == records.count()
