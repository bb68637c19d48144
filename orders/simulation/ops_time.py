"""Steps of time and of the operators: beat ticks (every periodic task that is due, as beat would
send it), clock jumps through ``manage.py run_billing --at``, dry runs, price changes, report reads,
and the fault injections (a worker killed mid-run, a window of DB faults)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management import call_command

from config.clock import local, local_tz, month_of
from config.schedule import beat_schedule
from orders.models import LineStatus, SubscriptionLine
from orders.simulation.context import Ctx
from orders.simulation.faults import FaultState, kill_worker
from orders.simulation.schedule import Op
from orders.simulation.snapshot import unchanged
from orders.simulation.world import Message, Sink, call
from plans.models import Plan
from plans.selectors import price_version_in_force

JOB_TASKS = ("orders.run_renewals", "orders.run_billing_jobs", "orders.package_auto_renew")
SKIPPED_TASKS = {"plans.sync_plans"}  # talks to PLAN_SERVICE_URL, which a simulation has not got


def _crontab_due(schedule: Any, last: datetime, now: datetime) -> bool:
    """Whether a crontab fires in ``(last, now]`` (in ``TALLY_TIME_ZONE``, beat's time zone)."""
    tz = local_tz()
    daily = (
        len(schedule.day_of_month) == 31
        and len(schedule.month_of_year) == 12
        and len(schedule.day_of_week) == 7
    )
    if daily and len(schedule.hour) == 24 and now - last >= timedelta(hours=1):
        return True
    day = local(last).date()
    while day <= local(now).date():
        if (
            day.day in schedule.day_of_month
            and day.month in schedule.month_of_year
            and (day.isoweekday() % 7) in schedule.day_of_week
        ):
            for hour in sorted(schedule.hour):
                for minute in sorted(schedule.minute):
                    fire = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz).astimezone(
                        ZoneInfo("UTC")
                    )
                    if last < fire <= now:
                        return True
        day += timedelta(days=1)
    return False


def _due_entries(ctx: Ctx, now: datetime) -> list[str]:
    state: dict[str, datetime] = ctx.__dict__.setdefault("_beat_last", {})
    due = []
    for name, entry in sorted(beat_schedule().items()):
        task = entry["task"]
        if task in SKIPPED_TASKS:
            continue
        last = state.get(name)
        schedule = entry["schedule"]
        if last is None:
            fire = True
        elif hasattr(schedule, "day_of_month"):
            fire = _crontab_due(schedule, last, now)
        else:
            seconds = schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)
            fire = (now - last).total_seconds() >= seconds
        if fire:
            state[name] = now
            due.append(task)
    return due


def beat_tick(ctx: Ctx, *, duplicate: bool = False) -> list[str]:
    """Beat sends every due periodic task (twice with ``duplicate``); the worker runs them; while
    billing lines are still due (a runner catches up a bounded number of periods per run) the jobs
    are sent again, as the next beat minutes would."""
    now = ctx.clock()
    errors: list[str] = []
    for task in _due_entries(ctx, now):
        for _ in range(2 if duplicate else 1):
            ctx.broker.send_task(task)
    errors += ctx.broker.drain()
    due = _lines_still_due(now)
    for _ in range(6):  # a runner catches up a bounded number of periods per run: run it again
        if not due:
            break
        for task in JOB_TASKS:
            ctx.broker.send_task(task)
        errors += ctx.broker.drain()
        left = _lines_still_due(now)
        if left >= due:  # nothing moved (unpaid lines wait for money): the next tick tries again
            break
        due = left
    ctx.counters["ticks"] += 1
    return errors


def _lines_still_due(now: datetime) -> int:
    return (
        SubscriptionLine.objects.filter(status=LineStatus.RUNNING, next_run_at__lte=now)
        .exclude(subscription__status__in=["paused", "suspended", "stopped", "ended", "canceled"])
        .count()
    )


def op_tick(ctx: Ctx, op: Op) -> str:
    return "tick"


def op_jump(ctx: Ctx, op: Op) -> str:
    """``manage.py run_billing --at T`` at a month end, Feb 29 or a DST change (twice with faults:
    a duplicate run for the same moment)."""
    at = ctx.clock().isoformat()
    for _ in range(2 if op.args.get("dup") else 1):
        call_command("run_billing", at=at, stdout=Sink(), stderr=Sink())
    ctx.counters["jumps"] += 1
    return f"run_billing --at {at}"


def op_run_billing_preview(ctx: Ctx, op: Op) -> str:
    at = (ctx.clock() + timedelta(days=op.args.get("ahead_days", 0))).isoformat()
    with unchanged(ctx, f"run_billing --dry-run --at {at}"):
        call_command("run_billing", at=at, dry_run=True, stdout=Sink(), stderr=Sink())
    return "dry run"


def op_price_change(ctx: Ctx, op: Op) -> str:
    """Staff publish a new price version, at least one cycle ahead (renewals then use it)."""
    plan = Plan.objects.get(plan_id=op.args["plan"])
    version = price_version_in_force(plan, ctx.clock() + timedelta(days=40))
    if version is None:
        return "no price"
    price = (version.price * Decimal(op.args["factor"])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    effective = (ctx.clock() + timedelta(days=33)).replace(microsecond=0)
    r = ctx.answered(
        call(
            ctx.world.staff_api(),
            "POST",
            f"/api/v1/plans/{plan.plan_id}/prices",
            {"price": str(price), "effective_from": effective.isoformat()},
        ),
        "price change",
    )
    return f"{plan.plan_id} -> {price} from {effective:%Y-%m-%d}" if r.ok else f"refused {r.code} {r.msg}"


def op_report_read(ctx: Ctx, op: Op) -> str:
    month = month_of(ctx.clock())
    query = {"namespace": ctx.world.namespace(op.args["account"]), "period": f"{month:%Y-%m}"}
    with unchanged(ctx, "GET /usageapi/v1/reports"):
        r = ctx.answered(
            call(ctx.world.api(op.args["account"]), "GET", "/usageapi/v1/reports", query=query), "report"
        )
    return f"report total {r.data.get('total') if r.ok else r.code}"


def op_kill_worker(ctx: Ctx, op: Op) -> str:
    """A worker process killed in the middle of a billing run (or a periodic task), then restarted:
    the restarted worker (in-process here) runs the same thing again for the same moment."""
    a = op.args
    at = ctx.clock() + timedelta(hours=a["ahead_hours"])
    if ctx.subprocess_db_url is None:
        return "skipped: the database is in memory (no other process can reach it)"
    ctx.clock.set(at)
    report = kill_worker(
        db_url=ctx.subprocess_db_url, target=a["target"], at=at, delay_s=a["delay_ms"] / 1000
    )
    ctx.counters["workers_killed" if report["killed"] else "workers_finished_before_kill"] += 1
    if not report["killed"] and report["returncode"] != 0:
        ctx.fail("worker_ran_clean", f"the worker exited {report['returncode']}: {report['stderr']}")
    if a["target"] == "run_billing":
        call_command("run_billing", at=at.isoformat(), stdout=Sink(), stderr=Sink())
    else:  # acks_late: the message comes back to a live worker
        ctx.broker.queue.append(Message(name="orders.run_billing_jobs"))
        errors = ctx.broker.drain()
        if errors:
            ctx.fail("task_ran_clean", "; ".join(errors))
    return f"{a['target']} {'killed' if report['killed'] else 'finished'} after {report['seconds']}s"


def op_db_fault_window(ctx: Ctx, op: Op) -> str:
    a = op.args
    ctx.faults = FaultState(ops_left=a["ops"], rate=a["rate"], kind=a["fault"])
    return f"{a['fault']} faults at rate {a['rate']} for {a['ops']} steps"


def settings_overrides(time_zone: str) -> dict[str, Any]:
    """What a simulation runs with, whatever the environment says."""
    return {
        "TALLY_TIME_ZONE": time_zone,
        "PAYMENT_SANDBOX_ENABLED": True,
        "PAYMENT_CALLBACK_SECRET": getattr(settings, "PAYMENT_CALLBACK_SECRET", "") or "sim-callback-secret",
        "PAYMENT_DEFAULT_PROVIDER": "sandbox",
        "PLAN_SERVICE_URL": "",
        "NOTIFY_URL": "",
    }
