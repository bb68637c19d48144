"""``manage.py run_billing --at T`` runs every periodic money/state job beat runs, at T, from the one
list beat is built from; ``--dry-run`` runs the same code and keeps nothing (issue 15, item 4)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.models import Count

from billing.models import Account, LedgerEntry, MonthlyQuota
from billing.services import account_credit
from config.celery import app as celery_app
from config.clock import local_tz, parse_moment
from config.jobs import PeriodicJob
from config.schedule import beat_schedule
from orders.jobs import JOBS, jobs_run, jobs_select
from orders.models import ProductInstance, PurchaseOrder, SubscriptionLine
from orders.package.services import package_order_charge
from orders.purchase.services import purchase_order_create
from orders.vehicle.models import VehicleOrder
from orders.vehicle.services import vehicle_order_pay, vehicle_order_underwrite
from plans.models import MeteredService
from tests.conftest import mariadb_only
from tests.orders.package.factories import create_order, make_catalog
from tests.orders.purchase.helpers import local, make_plan
from tests.orders.vehicle.factories import make_plan_order
from usage.audit import ledger_audit
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db
PURCHASE_AT = local(2026, 3, 5)
PACKAGE_AT = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
RUN_AT = local(
    2026, 4, 9, 18
)  # due: the purchase order's renewal (Apr 5 - 7 d), the package's (Apr 10 16:00 - 1 d)


# --- one list for beat and run_billing --------------------------------------------------------------


def test_beat_is_built_from_the_one_list_of_jobs():
    """What beat's scheduler writes from this list: tests/config/test_beat_scheduler.py."""
    schedule = beat_schedule()
    assert set(schedule) == {job.beat_name for job in JOBS}
    for job in JOBS:
        assert schedule[job.beat_name]["task"] == job.task_name
        real = job.task._get_current_object()  # shared_task hands out a proxy
        assert celery_app.tasks[job.task_name] is real  # a real, registered task
    kinds = {job.kind for job in jobs_select()}
    assert kinds == {
        "renewals",  # purchase renewals, renewal-failed notifications, end after grace
        "billing_jobs",  # hourly and postpaid lines (arrears)
        "package_auto_renew",
        "vehicle_lifecycle",  # 3->4 at start, 4->5 at stop
        "quota_month",
        "arrears",
    }
    housekeeping = {job.kind for job in JOBS} - kinds
    # statements: issuing fans out to workers and renders PDFs; issue_statements is its by-hand run
    # balance_alerts sends notifications: `run_billing --only balance_alerts --at T` evaluates at T
    not_travelled = {
        "purge_idempotency_keys",
        "plan_sync",
        "ledger_audit",
        "statements",
        "statements_sweep",
        "heartbeat",  # beat -> worker liveness for /healthz (ops)
        "balance_alerts",
    }
    assert housekeeping == not_travelled


def test_every_task_with_a_time_takes_it_as_at():
    """``run`` passes ``at`` through the task's own signature: a task that dropped the parameter
    would fail here, not silently run at the real now."""
    import inspect

    for job in JOBS:
        params = inspect.signature(job.task.run).parameters
        assert ("at" in params) == job.takes_at, job.kind
        assert ("chunk_size" in params) >= job.takes_chunk_size, job.kind


# --- a world with something due for every job ----------------------------------------------------------


@pytest.fixture
def world(user, staff_user):
    from billing.tenancy import personal_account

    make_plan("vol-50g", "30")
    make_catalog()
    MeteredService.objects.get_or_create(service="passport", defaults={"unit_price": Decimal("0.01")})
    acc = personal_account(user)
    account_credit(
        account_id=acc.pk, amount=Decimal("20000"), idempotency_key="fund", subject=("test", "fund")
    )
    purchase = purchase_order_create(
        account=acc, creator=user, region="cn-north-1", plan_id="vol-50g", at=PURCHASE_AT
    ).order
    package = create_order(acc, ext="i-auto", auto_renew=True, at=PACKAGE_AT).order
    package_order_charge(order_pk=package.pk, at=PACKAGE_AT)
    starts = make_plan_order(user, expect_at="2026-04-09T00:00:00+08:00")  # in force at RUN_AT
    vehicle_order_pay(order_id=starts.order_id, actor=user)
    vehicle_order_underwrite(
        order_id=starts.order_id, actor=staff_user, result="approved", now=local(2026, 3, 2)
    )
    ends = make_plan_order(user, expect_at="2025-04-01T00:00:00+08:00")  # its year is over by RUN_AT
    vehicle_order_pay(order_id=ends.order_id, actor=user)
    vehicle_order_underwrite(
        order_id=ends.order_id, actor=staff_user, result="approved", now=local(2025, 3, 2)
    )
    VehicleOrder.objects.filter(pk=ends.pk).update(state_code=4, state="in force")  # as beat left it in 2025
    debtor = Account.objects.create(namespace="debtor", currency="CNY")
    account_credit(account_id=debtor.pk, amount=Decimal("50"), idempotency_key="d", subject=("test", "d"))
    UsageRecord.objects.create(
        account=debtor,
        source="package",
        order_ref="P-X",
        line_id=999_999,
        period_key="p:x",
        period_start=local(2026, 3, 1),
        period_end=local(2026, 3, 1, 1),
        unit_price=Decimal(20),
        amount=Decimal(20),
        kind="usage",
        status="arrears",
    )
    return {
        "acc": acc,
        "purchase": purchase,
        "package": package,
        "starts": starts,
        "ends": ends,
        "debtor": debtor,
    }


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of Tally's apps."""
    out = {}
    for label in ("plans", "billing", "usage", "orders"):
        for model in apps.get_app_config(label).get_models():
            out[model._meta.label] = sorted(map(repr, model._default_manager.values_list()))
    return out


def run(*args: str) -> str:
    out = StringIO()
    call_command("run_billing", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_dry_run_lists_what_every_job_would_do_and_writes_nothing(world, django_capture_on_commit_callbacks):
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True) as sent:
        text = run("--at", RUN_AT.isoformat(), "--dry-run")
    assert snapshot() == before and sent == []  # no row changed, no task or notification sent
    assert text.startswith("dry run: nothing written; run_billing at 2026-04-09 18:00:00 CST")
    purchase, package = world["purchase"], world["package"]
    assert "renewals" in text and f"charge alice -30.0000 for purchase_order {purchase.order_id}" in text
    assert f"package order {package.order_id}: auto_renewed running -> running" in text
    assert f"vehicle order {world['starts'].order_no}: underwritten -> in force" in text
    assert f"vehicle order {world['ends'].order_no}: in force -> expired" in text
    assert "monthly quota row(s)" in text
    assert "charge debtor -20.0000 for usage_record" in text
    assert "(dry run: rolled back)" in text
    assert json.loads(run("--at", RUN_AT.isoformat(), "--dry-run", "--format", "json"))["dry_run"] is True
    assert snapshot() == before


def test_run_at_T_runs_every_job_with_simulated_times(world, django_capture_on_commit_callbacks):
    mark = LedgerEntry.objects.order_by("-pk").values_list("pk", flat=True).first()
    with django_capture_on_commit_callbacks(execute=True):
        text = run("--at", RUN_AT.isoformat())
    assert "total:" in text and "dry run" not in text
    purchase = PurchaseOrder.objects.get(pk=world["purchase"].pk)
    assert purchase.deadline == local(2026, 5, 5)  # renewed once
    renew = UsageRecord.objects.get(order_ref=purchase.order_id, kind="renew")
    instance = ProductInstance.objects.get(prod_inst_id_ext="i-auto")
    sys_line = SubscriptionLine.objects.get(subscription_id=instance.subscription_id, component_id="sys")
    assert sys_line.periods_billed == 2  # auto-renewed
    assert VehicleOrder.objects.get(pk=world["starts"].pk).state_code == 4
    assert VehicleOrder.objects.get(pk=world["ends"].pk).state_code == 5
    services = MeteredService.objects.filter(active=True).count()
    assert MonthlyQuota.objects.filter(month="2026-04-01").count() == Account.objects.count() * services > 0
    assert UsageRecord.objects.get(account=world["debtor"]).status == "paid"
    # everything written carries the simulated moment (plus the seconds the run took)
    window = (RUN_AT, RUN_AT + timedelta(minutes=5))
    assert window[0] <= renew.created_at <= window[1] and renew.paid_at == RUN_AT
    entries = LedgerEntry.objects.filter(pk__gt=mark)
    assert entries.count() >= 3  # renewal, auto-renew, arrears (and the package's hours)
    assert all(window[0] <= e.created_at <= window[1] for e in entries)
    assert ledger_audit() == []
    again = run("--at", RUN_AT.isoformat(), "--only", "renewals,package_auto_renew,vehicle_lifecycle,arrears")
    assert "renewed" not in again.split("package_auto_renew")[0]  # nothing twice
    assert UsageRecord.objects.filter(order_ref=purchase.order_id, kind="renew").count() == 1


def test_only_picks_jobs_and_rejects_unknown_ones(world):
    text = run("--at", RUN_AT.isoformat(), "--only", "vehicle_lifecycle")
    assert "vehicle_lifecycle" in text and "renewals" not in text
    assert VehicleOrder.objects.get(pk=world["starts"].pk).state_code == 4
    assert PurchaseOrder.objects.get(pk=world["purchase"].pk).deadline == local(2026, 4, 5)
    with pytest.raises(CommandError, match="unknown job kind.*nope"):
        run("--only", "nope")
    with pytest.raises(CommandError, match="ISO 8601"):
        run("--at", "yesterday")


def test_a_naive_at_is_local_time_and_a_date_is_local_midnight(settings):
    settings.TALLY_TIME_ZONE = "Asia/Shanghai"
    assert parse_moment("2026-04-04T00:00") == datetime(2026, 4, 4, tzinfo=local_tz())
    assert parse_moment("2026-04-04") == datetime(2026, 4, 3, 16, tzinfo=UTC)
    assert parse_moment("2026-04-04T00:00Z") == datetime(2026, 4, 4, tzinfo=UTC)


def test_jobs_run_is_the_tasks_own_code(monkeypatch):
    calls: list[dict[str, Any]] = []

    class Probe:
        name = "probe.task"

        def __call__(self, **kwargs: Any) -> dict[str, int]:
            calls.append(kwargs)
            return {"done": 1}

    job = PeriodicJob(
        kind="probe", beat_name="probe", task=Probe(), schedule=60.0, about="probe", takes_chunk_size=True
    )  # type: ignore[arg-type]
    monkeypatch.setattr("orders.jobs._BY_KIND", {"probe": job})
    monkeypatch.setattr("orders.jobs.JOBS", (job,))
    (outcome,) = jobs_run(at=RUN_AT, only=["probe"], chunk_size=7)
    assert calls == [{"at": RUN_AT.isoformat(), "chunk_size": 7}] and outcome.result == {"done": 1}


# --- MariaDB: two runs racing ------------------------------------------------------------------------


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_two_run_billing_at_once_bill_every_period_once(world):
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        try:
            barrier.wait()
            jobs_run(at=RUN_AT)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    per_period = (
        UsageRecord.objects.values("line_id", "period_key").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    assert per_period == 0
    assert UsageRecord.objects.filter(order_ref=world["purchase"].order_id, kind="renew").count() == 1
    assert VehicleOrder.objects.get(pk=world["ends"].pk).state_code == 5
    assert ledger_audit() == []


@pytest.fixture
def published(monkeypatch) -> list[str]:
    """Every task sent while the test runs, whether on commit, by name or by ``.delay()``: eager
    mode runs them inline, so a dry run's rollback would hide what a worker would really get."""
    from celery.app.task import Task

    sent: list[str] = []
    real_apply_async, real_send_task = Task.apply_async, type(celery_app).send_task

    def apply_async(self: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(self.name)
        return real_apply_async(self, *args, **kwargs)

    def send_task(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        sent.append(name)
        return real_send_task(self, name, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    monkeypatch.setattr(type(celery_app), "send_task", send_task)
    return sent


@pytest.mark.parametrize("kind", [job.kind for job in JOBS])
def test_a_dry_run_of_any_job_writes_nothing_and_sends_nothing(
    kind, world, published, settings, django_capture_on_commit_callbacks
):
    """Housekeeping jobs too (``--only statements`` once sent its batch workers straight to the
    broker, where they would have issued real statements for the rolled-back slices)."""
    settings.PLAN_SERVICE_URL = ""  # plan_sync would read the origin; it writes nothing either way
    # After the month the accounts were made in (real time, now) has closed: statements have work.
    made = Account.objects.earliest("created_at").created_at.astimezone(local_tz())
    at = local(made.year + made.month // 12, made.month % 12 + 1, 2, 4)
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True) as on_commit:
        text = run("--at", at.isoformat(), "--dry-run", "--only", kind)
    assert snapshot() == before
    assert on_commit == [] and published == []
    assert f"  {kind}  " in text and text.rstrip().endswith("(dry run: rolled back)")
