"""Late and voided meter events racing the billing job on MariaDB (issue 20, part 3): threads
ingest events of periods being billed and of periods billed already, void some, while two billing
workers run; every period then bills exactly its events once (docs/package-orders.md, "Late and
voided events")."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from billing.models import LedgerEntry
from billing.services import account_credit
from orders.engine.billing import period_amount
from orders.jobs import billing_jobs_run
from orders.models import ProductInstance, SubscriptionLine
from orders.package.metering import meter_events_ingest
from orders.package.metering_void import meter_events_void
from orders.package.services import package_order_charge
from tests.conftest import mariadb_only
from tests.orders.package.factories import T0, create_order, funded_account, make_catalog
from usage.audit import ledger_audit
from usage.models import MeterEvent, UsageKind, UsageRecord

pytestmark = [mariadb_only, pytest.mark.django_db(transaction=True)]
HOURS = 3
INSTANCES = 4
INGESTERS = 4
BATCHES = 12
RUN_AT = T0 + timedelta(hours=HOURS, minutes=1)


def run_threads(targets) -> list[BaseException]:
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []
    lock = threading.Lock()

    def wrapped(target) -> None:
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted empty
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrapped, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_late_events_racing_the_billing_job_are_billed_exactly_once():
    make_catalog()
    account = funded_account("late-race", "0")
    account_credit(
        account_id=account.pk, amount=Decimal("100000"), idempotency_key="fund", subject=("test", "fund")
    )
    exts = [f"lr-{i}" for i in range(INSTANCES)]
    for ext in exts:
        package_order_charge(order_pk=create_order(account, ext=ext).order.pk, at=T0)
    # the first hour billed before the race: its events from now on are all late
    meter_events_ingest(
        account_id=account.pk,
        events=[
            {
                "event_id": f"pre-{ext}-{j}",
                "instance": ext,
                "component_id": "net",
                "quantity": "1.0001",
                "timestamp": (T0 + timedelta(minutes=5 + j)).isoformat(),
            }
            for ext in exts
            for j in range(10)
        ],
        at=T0 + timedelta(minutes=30),
    )
    billing_jobs_run(at=T0 + timedelta(hours=1, minutes=1))
    assert UsageRecord.objects.filter(kind=UsageKind.USAGE).count() == INSTANCES

    def ingester(seed: int):
        def run() -> None:
            rnd = random.Random(seed)  # noqa: S311
            for b in range(BATCHES):
                events = [
                    {
                        "event_id": f"ev-{seed}-{b}-{k}",
                        "instance": rnd.choice(exts),
                        "component_id": "net",
                        "quantity": str(Decimal(rnd.randint(1, 30000)) / 10000),
                        # any moment of the three hours: billed already, being billed, or open
                        "timestamp": (T0 + timedelta(seconds=rnd.randrange(HOURS * 3600))).isoformat(),
                    }
                    for k in range(25)
                ]
                meter_events_ingest(account_id=account.pk, events=events, at=RUN_AT)
                if b % 3 == 0:  # a replay of the batch: duplicates only
                    assert meter_events_ingest(account_id=account.pk, events=events, at=RUN_AT).accepted == 0

        return run

    def biller() -> None:
        for _ in range(6):
            billing_jobs_run(at=RUN_AT, chunk_size=2)

    def voider() -> None:
        ids = [f"pre-{ext}-{j}" for ext in exts for j in range(0, 10, 2)]
        for i in range(0, len(ids), 4):
            meter_events_void(account_id=account.pk, event_ids=ids[i : i + 4])
            meter_events_void(account_id=account.pk, event_ids=ids[i : i + 4])  # twice: once

    errors = run_threads([ingester(s) for s in range(INGESTERS)] + [biller, biller, voider])
    assert errors == []
    billing_jobs_run(at=RUN_AT)  # what the last run has not seen yet
    assert billing_jobs_run(at=RUN_AT).get("late_corrections", 0) == 0

    # every event of a billed period: billed exactly once (the first hour's too: late or voided)
    events = MeterEvent.objects.filter(account=account)
    assert events.count() == INSTANCES * 10 + INGESTERS * BATCHES * 25
    left = events.filter(billed_record_id__isnull=True, voided_at__isnull=True)
    assert list(left.values_list("event_id", flat=True)[:10]) == []
    assert events.filter(voided_at__isnull=False).count() == INSTANCES * 5

    # each period: its records add up to the price of its events that are not voided
    for ext in exts:
        inst = ProductInstance.objects.get(prod_inst_id_ext=ext)
        line = SubscriptionLine.objects.get(subscription_id=inst.subscription_id, component_id="net")
        periods = UsageRecord.objects.filter(line_id=line.pk, kind=UsageKind.USAGE).order_by("period_start")
        assert periods.count() == HOURS
        for record in periods:
            group = UsageRecord.objects.filter(line_id=line.pk, period_start=record.period_start)
            assert set(group.exclude(pk=record.pk).values_list("corrects_id", flat=True)) <= {record.pk}
            live = events.filter(
                line_id=line.pk,
                timestamp__gte=record.period_start,
                timestamp__lt=record.period_end,
                voided_at__isnull=True,
            )
            quantity = sum(live.values_list("quantity", flat=True), Decimal(0))
            assert sum(group.values_list("quantity", flat=True), Decimal(0)) == quantity
            assert sum(group.values_list("amount", flat=True), Decimal(0)) == period_amount(
                unit_price=record.unit_price, quantity=quantity
            )
            assert not group.exclude(status="paid").exists()

    account.refresh_from_db()
    assert account.balance == sum(
        LedgerEntry.objects.filter(account=account).values_list("amount", flat=True), Decimal(0)
    )
    assert ledger_audit() == []
