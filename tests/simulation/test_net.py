"""The net itself: each kind of damage is caught at the step that did it, with a replay command;
the schedule is a pure function of the seed; the DB fault hook injects what it says."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import OperationalError
from django.db.models import F

from billing.models import Account, LedgerEntry
from billing.services import account_credit, account_get_or_create
from orders.simulation import SimConfig, run, shrink
from orders.simulation.context import Ctx
from orders.simulation.faults import FaultState, db_fault_hook
from orders.simulation.schedule import ScheduleConfig, build_schedule, special_instants
from orders.simulation.snapshot import unchanged
from usage.models import UsageRecord, UsageStatus

SHORT = SimConfig(seed=11, months=1, ops_per_month=25, accounts=2, threads=False)


def test_schedule_is_a_pure_function_of_its_config() -> None:
    a = build_schedule(ScheduleConfig(seed=5, months=2))
    b = build_schedule(ScheduleConfig(seed=5, months=2))
    c = build_schedule(ScheduleConfig(seed=6, months=2))
    assert [o.describe() for o in a] == [o.describe() for o in b]
    assert [o.describe() for o in a] != [o.describe() for o in c]
    assert [o.index for o in a] == list(range(len(a)))
    assert all(x.at <= y.at for x, y in zip(a, a[1:], strict=False))
    refs = [o.args["ref"] for o in a if "ref" in o.args]
    assert refs and all(a[r].kind in ("po_create", "pkg_create", "veh_place") for r in refs)


def test_every_kind_of_step_is_scheduled_by_the_ci_seeds() -> None:
    from orders.simulation.runner import EXECUTORS
    from tests.simulation.test_seeds import CI_SEEDS

    kinds = set()
    for seed, faults in CI_SEEDS:
        kinds |= {
            o.kind
            for o in build_schedule(ScheduleConfig(seed=seed, months=1, ops_per_month=50, faults=faults))
        }
    assert set(EXECUTORS) <= kinds


def test_clock_jumps_hit_month_ends_feb_29_and_both_dst_changes() -> None:
    instants = special_instants(
        datetime(2027, 10, 1, tzinfo=UTC), datetime(2028, 4, 1, tzinfo=UTC), "America/New_York"
    )
    assert datetime(2028, 2, 29, 17, 0, tzinfo=UTC) in instants  # noon in New York
    assert datetime(2027, 11, 7, 6, 0, tzinfo=UTC) in instants  # 02:00 EDT -> 01:00 EST
    assert datetime(2028, 3, 12, 7, 0, tzinfo=UTC) in instants  # 02:00 EST -> 03:00 EDT
    assert datetime(2027, 12, 1, 4, 59, 30, tzinfo=UTC) in instants  # 30 s before local midnight


def _corrupt_at(step: int, damage):  # type: ignore[no-untyped-def]
    def sabotage(ctx: Ctx, op) -> None:  # type: ignore[no-untyped-def]
        if op.index == step:
            damage(ctx)

    return sabotage


def _double_refund(ctx: Ctx) -> None:
    """A refund written twice: a second entry, balance kept equal to the ledger (so only the
    explanation of each entry can tell)."""
    entry = LedgerEntry.objects.filter(kind="charge").order_by("pk").first()
    assert entry is not None
    account = Account.objects.get(pk=entry.account_id)
    Account.objects.filter(pk=account.pk).update(balance=F("balance") + 1)
    LedgerEntry.objects.create(
        account=account, amount=Decimal(1), balance_after=account.balance + 1, kind="refund",
        subject_type=entry.subject_type, subject_id=entry.subject_id, idempotency_key="sabotage:refund",
    )  # fmt: skip


def _unpaid_entry(ctx: Ctx) -> None:
    UsageRecord.objects.filter(pk=UsageRecord.objects.filter(status=UsageStatus.PAID).exclude(amount=0).order_by("pk")
                               .values("pk")[:1]).update(ledger_entry=None)  # fmt: skip


def _balance_drift(ctx: Ctx) -> None:
    Account.objects.filter(pk=Account.objects.order_by("pk").values("pk")[:1]).update(
        balance=F("balance") + 5
    )


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("damage", "invariant"),
    [
        (_double_refund, "entries_explained"),
        (_unpaid_entry, "paid_record_has_entry"),
        (_balance_drift, "balance_matches_ledger"),
    ],
)
def test_damage_is_caught_at_its_step_with_a_replay_command(damage, invariant) -> None:  # type: ignore[no-untyped-def]
    step = 40
    result = run(replace(SHORT, sabotage=_corrupt_at(step, damage)))
    assert result.failure is not None
    assert result.failure.op.index == step
    assert invariant in {name for name, _ in result.failure.findings}
    report = result.failure.report()
    assert f"--seed {SHORT.seed} " in report and f"--steps {step + 1}" in report


@pytest.mark.django_db(transaction=True)
def test_a_preview_that_writes_is_caught() -> None:
    from orders.simulation.world import SimBroker, SimClock, World

    ctx = Ctx(seed=1, world=World(), clock=SimClock(datetime(2028, 1, 1, tzinfo=UTC)), broker=SimBroker(),
              threads=False, subprocess_db_url=None)  # fmt: skip
    account = account_get_or_create(namespace="preview-writes")
    from orders.simulation.context import Violation

    with pytest.raises(Violation) as caught, unchanged(ctx, "a preview that writes"):
        account_credit(account_id=account.pk, amount=Decimal(1), idempotency_key="preview")
    assert caught.value.invariant == "preview_wrote_nothing"
    assert "billing.ledgerentry (0 -> 1 rows)" in caught.value.detail


@pytest.mark.django_db(transaction=True)
def test_shrink_keeps_only_the_steps_the_failure_needs() -> None:
    from django.core.management import call_command

    step = 30
    failing = run(replace(SHORT, sabotage=_corrupt_at(step, _balance_drift)))
    assert failing.failure is not None

    def reset() -> None:
        call_command("flush", interactive=False, verbosity=0)

    kept, attempts = shrink(failing.failure, reset=reset, budget_seconds=90)
    assert step in kept and len(kept) < step / 3, (kept, attempts)
    reset()
    again = run(replace(failing.failure.config, keep=kept, steps=step + 1))
    assert again.failure is not None and again.failure.invariant == "balance_matches_ledger"


@pytest.mark.django_db(transaction=True)
def test_db_fault_hook_injects_deadlocks_that_the_services_retry() -> None:
    from orders.simulation.world import SimBroker, SimClock, World

    account = account_get_or_create(namespace="faulty")
    ctx = Ctx(seed=1, world=World(), clock=SimClock(datetime(2028, 1, 1, tzinfo=UTC)), broker=SimBroker(),
              threads=False, subprocess_db_url=None)  # fmt: skip
    ctx.faults = FaultState(ops_left=1, rate=1.0, kind="deadlock")
    with db_fault_hook(ctx), pytest.raises(OperationalError) as caught:
        account_credit(account_id=account.pk, amount=Decimal(5), idempotency_key="always-deadlocked")
    assert caught.value.args[0] == 1213
    assert ctx.faults.injected == 4  # retry_on_conflict tried MAX_ATTEMPTS times, then gave up
    assert not LedgerEntry.objects.filter(account=account).exists()
    ctx.faults = FaultState(ops_left=1, rate=1.0, kind="deadlock", limit=1)
    with db_fault_hook(ctx):
        account_credit(account_id=account.pk, amount=Decimal(5), idempotency_key="sometimes-deadlocked")
    assert ctx.faults.injected == 1
    assert list(LedgerEntry.objects.filter(account=account).values_list("amount", flat=True)) == [Decimal(5)]
