"""Arrears are settled after every credit, whatever the path, and by the sweep when a message is
lost (issue 15, item 1). Tasks run inline here (eager); tests/live/ proves the real worker does it."""

from __future__ import annotations

import io
import logging
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from celery import Celery
from django.db import connections

from billing.batch import batch_apply, batch_validate
from billing.models import Account, LedgerEntry
from billing.recharges import recharge_create, recharge_handle_callback, recharge_review_resolve
from billing.services import account_adjust, account_charge, account_credit, account_get_or_create
from config import enqueue
from config.exceptions import InsufficientFunds
from tests.conftest import mariadb_only
from usage.audit import ledger_audit
from usage.models import UsageRecord
from usage.services import arrears_payable_accounts, arrears_settle, arrears_sweep

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def account(namespace: str = "acme", funds: str = "0") -> Account:
    acc = account_get_or_create(namespace=namespace)
    if Decimal(funds) > 0:
        account_credit(
            account_id=acc.pk, amount=Decimal(funds), idempotency_key="seed", subject=("test", namespace)
        )
    return acc


def arrears(acc: Account, amount: str, *, hours: int = 0) -> UsageRecord:
    start = T0 + timedelta(hours=hours)
    return UsageRecord.objects.create(
        account=acc,
        source="package",
        order_ref="P-1",
        line_id=acc.pk,
        period_key=f"p:{hours}",
        period_start=start,
        period_end=start + timedelta(hours=1),
        quantity=Decimal(1),
        unit_price=Decimal(amount),
        amount=Decimal(amount),
        kind="usage",
        status="arrears",
    )


def tasks_enqueued(callbacks: list[Any]) -> list[str]:
    """The task names among captured on-commit callbacks (``config.enqueue.enqueue_on_commit``);
    other callbacks, such as the check-quota cache's delete, are not tasks."""
    return [c.args[0] for c in callbacks if isinstance(c, partial) and c.func is enqueue.send_task]


def statuses(acc: Account) -> list[str]:
    return list(
        UsageRecord.objects.filter(account=acc).order_by("period_start").values_list("status", flat=True)
    )


def balance(acc: Account) -> Decimal:
    return Account.objects.get(pk=acc.pk).balance


def test_settlement_pays_oldest_first_and_stops_at_the_first_it_cannot_pay():
    acc = account(funds="10")
    arrears(acc, "4", hours=0)
    arrears(acc, "7", hours=1)
    arrears(acc, "1", hours=2)
    result = arrears_settle(account_id=acc.pk, at=T0 + timedelta(days=1))
    assert (result.settled, result.amount, result.remaining) == (1, Decimal(4), 2)
    assert statuses(acc) == ["paid", "arrears", "arrears"]  # the 1.00 waits behind the older 7.00
    paid = UsageRecord.objects.get(account=acc, status="paid")
    assert paid.paid_at == T0 + timedelta(days=1) and paid.ledger_entry.amount == Decimal(-4)
    assert arrears_settle(account_id=acc.pk).settled == 0  # nothing twice
    assert balance(acc) == Decimal(6) and ledger_audit() == []


@pytest.mark.parametrize("path", ["callback", "review", "batch", "adjustment"])
def test_every_credit_path_settles_arrears_on_commit(path, staff_user, django_capture_on_commit_callbacks):
    acc = account()
    arrears(acc, "30")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        if path == "callback":
            order = recharge_create(account=acc, amount="50", currency="CNY", payment_method="sandbox")
            recharge_handle_callback(
                recharge_order_id=order.public_id, payment_id="P", amount=Decimal("50"), status="SUCCESS"
            )
        elif path == "review":
            order = recharge_create(account=acc, amount="50", currency="CNY", payment_method="sandbox")
            recharge_handle_callback(
                recharge_order_id=order.public_id, payment_id="P", amount=Decimal("49"), status="SUCCESS"
            )
            assert statuses(acc) == ["arrears"]  # in review: nothing credited yet
            recharge_review_resolve(
                recharge_pk=order.pk, approve=True, reason="bank says 50", actor=staff_user
            )
        elif path == "batch":
            batch_apply(batch_validate(io.StringIO("namespace,amount,reference\nacme,50,BANK-1\n")))
        else:
            account_adjust(
                account_id=acc.pk,
                amount=Decimal("50"),
                reason="goodwill",
                actor=staff_user,
                idempotency_key="k1",
            )
    assert tasks_enqueued(callbacks) == ["usage.settle_arrears"], "the credit enqueued no settlement"
    assert statuses(acc) == ["paid"] and balance(acc) == Decimal(20)
    assert ledger_audit() == []


def test_a_debit_or_a_replay_enqueues_nothing(staff_user, django_capture_on_commit_callbacks):
    acc = account(funds="100")
    arrears(acc, "30")  # payable, yet neither a debit nor a replayed credit may trigger a settlement
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        account_adjust(
            account_id=acc.pk, amount=Decimal("-5"), reason="fix", actor=staff_user, idempotency_key="d"
        )
        account_charge(account_id=acc.pk, amount=Decimal("1"), idempotency_key="c", subject=("test", "c"))
        account_credit(
            account_id=acc.pk, amount=Decimal("100"), idempotency_key="seed", subject=("test", "x")
        )
    assert tasks_enqueued(callbacks) == []


def test_a_send_that_fails_is_logged_as_an_error_and_the_sweep_repairs_it(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    acc = account()
    arrears(acc, "30")

    class BrokenBroker:
        def signature(self, name: str, kwargs: dict[str, Any]) -> Any:
            raise ConnectionError("broker down")

    monkeypatch.setattr(enqueue, "current_app", BrokenBroker())
    order = recharge_create(account=acc, amount="50", currency="CNY", payment_method="sandbox")
    with (
        caplog.at_level(logging.ERROR, logger="tally.enqueue"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = recharge_handle_callback(
            recharge_order_id=order.public_id, payment_id="P", amount=Decimal("50"), status="SUCCESS"
        )
    assert result.outcome == "credited"  # the credit committed; only the message was lost
    (record,) = [r for r in caplog.records if r.name == "tally.enqueue"]
    assert record.levelno == logging.ERROR and "usage.settle_arrears" in record.getMessage()
    assert statuses(acc) == ["arrears"]
    sweep = arrears_sweep(at=T0 + timedelta(days=2))
    assert (sweep.accounts, sweep.settled, sweep.amount) == (1, 1, Decimal(30))
    assert statuses(acc) == ["paid"] and balance(acc) == Decimal(20)


def test_sweep_takes_only_accounts_that_can_pay_their_oldest_debt():
    rich, poor, broke, clean = (
        account("rich", "100"),
        account("poor", "5"),
        account("broke"),
        account("clean", "9"),
    )
    arrears(rich, "30")
    arrears(poor, "6", hours=0)
    arrears(poor, "1", hours=1)  # payable alone, but the older 6.00 comes first
    arrears(broke, "1")
    assert arrears_payable_accounts() == [rich.pk]
    assert arrears_sweep().settled == 1
    assert statuses(rich) == ["paid"] and statuses(poor) == ["arrears", "arrears"]
    assert arrears_sweep().settled == 0 and clean.pk not in arrears_payable_accounts()


def test_send_by_name_publishes_a_task_this_process_does_not_know(monkeypatch):
    """What the web process does: the task is not in its registry, the message still goes out."""
    probe = Celery("probe", broker="memory://", set_as_current=False)
    probe.conf.task_default_queue = "probe"
    monkeypatch.setattr(enqueue, "current_app", probe)
    probe.tasks.unregister("usage.settle_arrears")  # shared tasks join every app; not this one
    assert enqueue.send_task("usage.settle_arrears", {"account_id": 7}) is True
    with probe.connection_for_read() as conn:
        message = conn.SimpleQueue("probe").get(timeout=2)
        assert message.headers["task"] == "usage.settle_arrears"
        assert message.decode()[1] == {"account_id": 7}
        message.ack()


# --- MariaDB: settlement racing charges -----------------------------------------------------------


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_settlement_racing_charges_and_sweeps_never_overdraws_or_pays_twice():
    acc = account("race", "100")  # credited before the debts exist: nothing settled yet
    for hour in range(20):
        arrears(acc, "3", hours=hour)
    errors: list[BaseException] = []
    accepted: list[Decimal] = []
    start = threading.Barrier(6)

    def settle() -> None:
        try:
            start.wait()
            for _ in range(3):
                arrears_settle(account_id=acc.pk)
                arrears_sweep()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    def charge(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                try:
                    account_charge(
                        account_id=acc.pk,
                        amount=Decimal("2"),
                        idempotency_key=f"c{n}-{i}",
                        subject=("test", n),
                    )
                    accepted.append(Decimal(2))
                except InsufficientFunds:
                    pass
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=settle) for _ in range(3)] + [
        threading.Thread(target=charge, args=(n,)) for n in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    paid = UsageRecord.objects.filter(account=acc, status="paid").count()
    arrears_entries = LedgerEntry.objects.filter(account=acc, idempotency_key__startswith="arrears:")
    assert arrears_entries.count() == paid  # one charge per settled record, none twice
    assert balance(acc) == Decimal(100) - 3 * paid - sum(accepted, Decimal(0)) >= 0
    assert ledger_audit() == []
    assert paid > 0 and accepted  # both sides got money: they really raced for it
    assert paid == 20 or balance(acc) < 3  # a settlement only stops at a debt it cannot pay
    # the paid ones are the oldest: no record paid while an older one is still owed
    owed = list(
        UsageRecord.objects.filter(account=acc, status="arrears").values_list("period_start", flat=True)
    )
    settled = list(
        UsageRecord.objects.filter(account=acc, status="paid").values_list("period_start", flat=True)
    )
    assert not owed or not settled or max(settled) < min(owed)
