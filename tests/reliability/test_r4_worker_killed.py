"""R4: a worker killed with SIGKILL in the middle of a billing run, restarted, racing another worker.

Real OS processes (``tests/reliability/renewal_worker.py``) run the renewal service against the
same MariaDB test database, as Celery workers would for beat's ``orders.run_renewals``: the first
is SIGKILLed once it has renewed part of the due orders (its open chunk transaction dies with its
connection and MariaDB rolls it back); then two fresh workers race over what is left. Must show:
every due subscription billed exactly once (one renewal record and one ledger charge per order, no
line ahead of its period), and balance == ledger sum on every account.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.db.models import Count

from billing.models import Account, LedgerEntry
from billing.services import account_credit, account_get_or_create
from config.money_sql import money_sum
from plans.models import BillingMode, Cycle, Plan, PriceVersion
from tests.conftest import mariadb_only

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 120
ACCOUNTS = 12
T0 = datetime(2026, 1, 10, 4, 0, tzinfo=UTC)


def db_url() -> str:
    s = connection.settings_dict
    auth = s["USER"] or "root"
    if s["PASSWORD"]:
        auth += f":{s['PASSWORD']}"
    return f"mysql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{s['NAME']}"


def worker(at: datetime, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": db_url(),
            "CELERY_BROKER_URL": "memory://",  # notifications go nowhere; billing is what is tested
            "TALLY_TESTING": "1",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
    )
    out = open(log, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.renewal_worker", at.isoformat(), "5"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=out,
    )


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_r4_sigkill_mid_run_then_restart_and_race_bills_each_period_once(tmp_path):
    from orders.models import PurchaseOrder
    from orders.purchase.services import purchase_order_create
    from usage.models import UsageRecord

    plan, _ = Plan.objects.get_or_create(
        plan_id="r4-vol",
        defaults={
            "name": "r4",
            "plan_type": "volume",
            "region": "cn-north-1",
            "billing_mode": BillingMode.PREPAID,
            "cycle": Cycle.MONTH,
        },
    )
    PriceVersion.objects.create(
        plan=plan, effective_from=datetime(2025, 1, 1, tzinfo=UTC), price=Decimal("10")
    )
    accounts = []
    for i in range(ACCOUNTS):
        acc = account_get_or_create(namespace=f"r4-{i}")
        account_credit(account_id=acc.pk, amount=Decimal("1000"), idempotency_key="r4:fund")
        accounts.append(acc)
    for i in range(ORDERS):
        res = purchase_order_create(
            account=accounts[i % ACCOUNTS], creator=None, region="cn-north-1", plan_id="r4-vol", at=T0
        )
        assert res.order is not None
    orders = list(PurchaseOrder.objects.filter(plan=plan).values_list("order_id", flat=True))
    assert len(orders) == ORDERS
    at = T0 + timedelta(days=31) - timedelta(days=7) + timedelta(hours=1)  # every order due once

    def renewed() -> int:
        return UsageRecord.objects.filter(order_ref__in=orders, kind="renew").count()

    log = tmp_path / "workers.log"
    first = worker(at, log)
    deadline = time.monotonic() + 120
    while renewed() < ORDERS // 6 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.02)
    assert first.poll() is None, f"the first worker finished before it could be killed:\n{log.read_text()}"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    partial = renewed()
    assert 0 < partial < ORDERS, partial

    racers = [worker(at, log), worker(at, log)]  # the restarted worker and a second one, at once
    for proc in racers:
        assert proc.wait(timeout=300) == 0, log.read_text()

    per_order = dict(
        UsageRecord.objects.filter(order_ref__in=orders, kind="renew")
        .values("order_ref")
        .annotate(n=Count("id"))
        .values_list("order_ref", "n")
    )
    assert set(per_order) == set(orders), f"{len(set(orders) - set(per_order))} orders never renewed"
    assert set(per_order.values()) == {1}, "an order was renewed twice"
    charges = LedgerEntry.objects.filter(account__in=accounts, kind="charge")
    assert charges.count() == 2 * ORDERS  # the first period at creation + one renewal each
    assert (
        PurchaseOrder.objects.filter(plan=plan, deadline=T0 + timedelta(days=31) + timedelta(days=28)).count()
        == ORDERS
    )
    for acc in Account.objects.filter(pk__in=[a.pk for a in accounts]):
        total = money_sum(LedgerEntry.objects.filter(account=acc))
        assert acc.balance == total, acc.namespace
    connection.close()
