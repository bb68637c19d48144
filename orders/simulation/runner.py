"""Run a schedule: each step advances the simulated clock, lets beat send what is due (the worker
runs it), performs the step through the real entry points, delivers the messages it caused, and
checks every invariant. The first step with a finding stops the run with the seed, the step and a
replay command; ``shrink`` then looks for a shorter schedule that fails the same way."""

from __future__ import annotations

import logging
import random
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from django.db import DatabaseError, connection
from django.test.utils import override_settings

from orders.simulation import ops_money, ops_package, ops_purchase, ops_time, ops_vehicle
from orders.simulation.context import Ctx, Violation
from orders.simulation.faults import db_fault_hook, reconnect_if_broken
from orders.simulation.invariants import CHECKED_EACH_STEP, KNOWN_OPEN, Checker, Finding
from orders.simulation.schedule import Op, ScheduleConfig, build_schedule
from orders.simulation.world import SimBroker, SimClock, World, world_setup

log = logging.getLogger("tally.simulation")

Executor = Callable[[Ctx, Op], str]
EXECUTORS: dict[str, Executor] = {
    "recharge": ops_money.op_recharge,
    "batch_recharge": ops_money.op_batch_recharge,
    "adjust": ops_money.op_adjust,
    "deduct_burst": ops_money.op_deduct_burst,
    "po_create": ops_purchase.op_po_create,
    "po_renew": ops_purchase.op_po_renew,
    "po_modify": ops_purchase.op_po_modify,
    "po_cancel": ops_purchase.op_po_cancel,
    "po_admin_cancel": ops_purchase.op_po_admin_cancel,
    "pkg_create": ops_package.op_pkg_create,
    "pkg_charge": ops_package.op_pkg_charge,
    "pkg_cancel": ops_package.op_pkg_cancel,
    "inst_op": ops_package.op_inst_op,
    "meter": ops_package.op_meter,
    "veh_place": ops_vehicle.op_veh_place,
    "veh_pay": ops_vehicle.op_veh_pay,
    "veh_cancel": ops_vehicle.op_veh_cancel,
    "veh_underwrite": ops_vehicle.op_veh_underwrite,
    "tick": ops_time.op_tick,
    "jump": ops_time.op_jump,
    "run_billing_preview": ops_time.op_run_billing_preview,
    "price_change": ops_time.op_price_change,
    "report_read": ops_time.op_report_read,
    "kill_worker": ops_time.op_kill_worker,
    "db_fault_window": ops_time.op_db_fault_window,
}
NO_TICK_BEFORE = {"setup", "jump", "kill_worker"}  # these steps are the billing run of their moment


@dataclass(frozen=True)
class SimConfig:
    seed: int
    accounts: int = 3
    months: int = 2
    faults: bool = False
    ops_per_month: int = 60
    time_zone: str = "America/New_York"
    threads: bool | None = None  # None: on MariaDB/MySQL
    steps: int | None = None  # run only the first N steps
    keep: frozenset[int] | None = None  # run only these steps (plus setup and final)
    strict: bool = False  # the KNOWN_OPEN invariants fail the run too
    subprocess_db_url: str | None = None  # where a killed worker process connects (None: skip)
    sabotage: Callable[[Ctx, Op], None] | None = None  # tests of the net itself: corrupt after a step

    def schedule_config(self) -> ScheduleConfig:
        return ScheduleConfig(
            seed=self.seed,
            accounts=self.accounts,
            months=self.months,
            faults=self.faults,
            ops_per_month=self.ops_per_month,
            time_zone=self.time_zone,
        )

    def replay_command(self, *, steps: int | None = None, keep: frozenset[int] | None = None) -> str:
        parts = ["python manage.py simulate", f"--seed {self.seed}", f"--accounts {self.accounts}",
                 f"--months {self.months}"]  # fmt: skip
        if self.faults:
            parts.append("--faults")
        if self.ops_per_month != SimConfig.ops_per_month:
            parts.append(f"--ops-per-month {self.ops_per_month}")
        if self.time_zone != SimConfig.time_zone:
            parts.append(f"--time-zone {self.time_zone}")
        if self.strict:
            parts.append("--strict")
        if keep is not None:
            parts.append("--keep " + ",".join(str(i) for i in sorted(keep)))
        if steps is not None:
            parts.append(f"--steps {steps}")
        return " ".join(parts)


@dataclass
class SimFailure:
    config: SimConfig
    op: Op
    findings: list[Finding]
    trace: list[str]

    @property
    def invariant(self) -> str:
        return self.findings[0][0]

    def replay(self, keep: frozenset[int] | None = None) -> str:
        return self.config.replay_command(steps=self.op.index + 1, keep=keep)

    def report(self, keep: frozenset[int] | None = None) -> str:
        lines = [
            f"simulation FAILED: seed {self.config.seed}, step {self.op.describe()}",
            *(f"  invariant {name}: {detail}" for name, detail in self.findings[:10]),
            "  last steps:",
            *(f"    {t}" for t in self.trace[-12:]),
            f"  replay: {self.replay(keep)}",
        ]
        return "\n".join(lines)


@dataclass
class SimResult:
    config: SimConfig
    steps: int = 0
    simulated_days: float = 0.0
    invariant_checks: int = 0
    seconds: float = 0.0
    counters: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    known: list[tuple[int, Finding]] = field(default_factory=list)
    failure: SimFailure | None = None
    trace: list[str] = field(default_factory=list)

    def summary(self) -> str:
        c = self.counters
        known = sorted({f[1][0] for f in self.known})
        return (
            f"seed {self.config.seed}: {self.steps} steps over {self.simulated_days:.1f} simulated days "
            f"({self.config.accounts} accounts, {c['requests']} HTTP requests, {c['ticks']} beat ticks, "
            f"{c['jumps']} clock jumps, {c['previews']} previews, {c['concurrent_calls']} concurrent calls, "
            f"{sum(v for k, v in c.items() if k.startswith('db_fault_'))} DB faults, "
            f"{c['workers_killed']} workers killed, {c['messages_lost']} messages lost); "
            f"{self.invariant_checks} invariant checks in {self.seconds:.1f}s"
            + (f"; known open: {', '.join(known)}" if known else "")
            + (
                ""
                if self.failure is None
                else f"; FAILED at step {self.failure.op.index} ({self.failure.invariant})"
            )
        )


def _arrears_affordable() -> list[Finding]:
    """After beat's sweeps ran: no account owes an arrears record its balance could pay."""
    from billing.models import Account
    from usage.models import UsageRecord, UsageStatus

    out: list[Finding] = []
    oldest: dict[int, Any] = {}
    for account_id, amount in (
        UsageRecord.objects.filter(status=UsageStatus.ARREARS)
        .order_by("period_start", "id")
        .values_list("account_id", "amount")
    ):
        oldest.setdefault(account_id, amount)
    for account_id, ns, balance in Account.objects.filter(pk__in=oldest).values_list(
        "pk", "namespace", "balance"
    ):
        if balance >= oldest[account_id]:
            out.append(
                (
                    "arrears_settled_when_affordable",
                    f"{ns} owes {oldest[account_id]} in arrears with {balance}",
                )
            )
    return out


def run(config: SimConfig) -> SimResult:
    """Run one seed in the current database (which the caller has emptied)."""
    schedule = build_schedule(config.schedule_config())
    result = SimResult(config=config)
    threads = connection.vendor == "mysql" if config.threads is None else config.threads
    clock, broker = SimClock(schedule[0].at), SimBroker()
    loss = random.Random(f"{config.seed}:broker")
    if config.faults:
        broker.lose = lambda m: m.name == "usage.settle_arrears" and loss.random() < 0.3
    checker = Checker()
    started = time.monotonic()
    quiet = _Quiet()
    with (
        override_settings(**ops_time.settings_overrides(config.time_zone)),
        clock.installed(),
        broker.installed(),
        quiet,
    ):
        ctx = Ctx(seed=config.seed, world=World(), clock=clock, broker=broker, threads=threads,
                  subprocess_db_url=config.subprocess_db_url)  # fmt: skip
        last_tick = clock.at
        for op in schedule:
            if config.steps is not None and op.index >= config.steps:
                break
            if config.keep is not None and op.index not in config.keep and op.kind not in ("setup", "final"):
                continue
            ctx.op, ctx.rng, ctx.fault_in_step = op, random.Random(f"{config.seed}:{op.index}"), False
            step_started = time.monotonic()
            clock.set(max(op.at, clock.at))
            outcome, findings, last_tick = _execute(ctx, op, config, last_tick)
            result.counters["messages_lost"] = broker.lost
            if config.sabotage is not None:
                config.sabotage(ctx, op)
            findings += checker.check(full=op.kind == "final")
            if _record(result, ctx, op, findings, f"{outcome} [{time.monotonic() - step_started:.2f}s]"):
                break
        result.counters.update(ctx.counters)
    result.counters["messages_lost"] = broker.lost
    result.simulated_days = (clock.at - schedule[0].at).total_seconds() / 86400
    result.seconds = time.monotonic() - started
    return result


def _execute(ctx: Ctx, op: Op, config: SimConfig, last_tick: datetime) -> tuple[str, list[Finding], datetime]:
    """Run one step: beat's tick first when a minute has passed, then the op, then the tasks it
    queued. A violation, a fault or a crash is a finding (an injected fault expected in the step
    is not). Returns the outcome, the findings and the time of the last tick."""
    clock, outcome = ctx.clock, ""
    findings: list[Finding] = []
    try:
        with db_fault_hook(ctx):
            if op.kind not in NO_TICK_BEFORE and (clock.at - last_tick).total_seconds() >= 60:
                task_errors = ops_time.beat_tick(ctx, duplicate=config.faults and ctx.rng.random() < 0.15)
                last_tick = clock.at
                findings += _task_findings(ctx, task_errors) + _arrears_affordable()
            if op.kind == "setup":
                ctx.world = world_setup(accounts=op.args["accounts"], seed=config.seed)
                outcome = "world set up"
            elif op.kind == "final":
                outcome = "final"
            else:
                outcome = EXECUTORS[op.kind](ctx, op)
            findings += _task_findings(ctx, ctx.broker.drain())
    except Violation as v:
        findings.append((v.invariant, v.detail))
        outcome = "violation"
    except DatabaseError as exc:
        if not ctx.fault_in_step:
            findings.append(("step_ran_clean", _short(exc)))
        outcome = f"fault: {exc}"
    except Exception as exc:  # noqa: BLE001 - a step that crashes is a finding, with its traceback
        findings.append(("step_ran_clean", _short(exc)))
        outcome = "crashed"
    finally:
        if ctx.faults.ops_left > 0 and op.kind != "db_fault_window":
            ctx.faults.ops_left -= 1
        if ctx.fault_in_step:
            reconnect_if_broken()
    return outcome, findings, last_tick


def _record(result: SimResult, ctx: Ctx, op: Op, findings: list[Finding], outcome: str) -> bool:
    """Count the step and trace it; True when a finding that is not a known open one stops the run."""
    config = result.config
    result.invariant_checks += ctx.counters.pop("checks", 0) + CHECKED_EACH_STEP
    result.steps += 1
    result.kinds[op.kind] += 1
    result.trace.append(f"{op.describe()} -> {outcome}")
    real = [f for f in findings if config.strict or f[0] not in KNOWN_OPEN]
    result.known += [(op.index, f) for f in findings if f not in real]
    if real:
        result.failure = SimFailure(config=config, op=op, findings=real, trace=result.trace)
        return True
    return False


def _task_findings(ctx: Ctx, errors: list[str]) -> list[Finding]:
    if not errors or ctx.fault_in_step:
        return []
    return [("task_ran_clean", e) for e in errors]


def _short(exc: BaseException) -> str:
    frames = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "".join(frames[-6:]).strip()[-3000:]


NOISY = ("tally", "orders", "billing", "usage", "plans", "celery", "django.request")


class _Quiet:
    """The services log every notification and run at INFO; a simulation makes thousands."""

    def __enter__(self) -> None:
        self.level = logging.root.level
        logging.root.setLevel(logging.ERROR)
        for name in NOISY:
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def __exit__(self, *exc: object) -> None:
        logging.root.setLevel(self.level)
        for name in NOISY:
            logging.getLogger(name).setLevel(logging.NOTSET)


def shrink(
    failure: SimFailure, *, reset: Callable[[], None], budget_seconds: float = 120.0
) -> tuple[frozenset[int], int]:
    """Drop steps (halves, then smaller chunks) while the run still fails with the same invariant
    at the same step. Returns the steps kept and how many runs it took; ``reset`` empties the
    database before each attempt."""
    cfg = failure.config
    target = failure.op.index
    keep = sorted(i for i in range(target) if i > 0)
    deadline = time.monotonic() + budget_seconds
    attempts = 0
    chunk = max(1, len(keep) // 2)
    while chunk >= 1 and time.monotonic() < deadline:
        i, progressed = 0, False
        while i < len(keep) and time.monotonic() < deadline:
            trial = keep[:i] + keep[i + chunk :]
            reset()
            attempts += 1
            again = run(replace(cfg, keep=frozenset([*trial, target]), steps=target + 1))
            if (
                again.failure is not None
                and again.failure.op.index == target
                and again.failure.invariant == failure.invariant
            ):
                keep, progressed = trial, True
            else:
                i += chunk
        if not progressed:
            chunk //= 2
    return frozenset([*keep, target]), attempts
