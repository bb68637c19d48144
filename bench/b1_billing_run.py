"""B1: a billing run renewing N due prepaid subscriptions with 2 workers (docs/benchmarks.md).

Project: ``orders.purchase.renewal.renewal_run`` (beat's ``orders.run_renewals``): per due line it
locks the account and line (SKIP LOCKED chunks), charges the period (ledger entry + usage record),
moves the deadline, writes the order event and enqueues the ``order_renewed`` notification.
Two workers run it at once for the same moment, sharing the work through SKIP LOCKED:
- ``BENCH_B1_MODE=celery`` (default at full size when Redis answers): two real ``celery worker``
  processes on Redis, each sent one ``orders.run_renewals`` task;
- ``BENCH_B1_MODE=processes`` (default at small size): two OS processes calling the service directly
  (no broker in between; said so in the output line).
Baseline (``bench/b1_baseline.py``): the same writes as the strongest hand-written SQL through
MySQLdb in two processes: chunks of 100 lines (the project's chunk), the same SKIP LOCKED locks,
and every write of a chunk one set-based statement (multi-row INSERTs, ``CASE`` UPDATEs, the
rollups' upsert): 11 round trips per chunk. Both sides' entry counters and rollups are checked
against their ledger and records. Target (issue 21.1): >= 0.8x the baseline's rate; memory flat
in N (peak RSS of the workers). The statements per chunk of both sides are printed.

Data: N orders cloned in bulk from one order created through ``purchase_order_create`` (the same
rows the service writes), over N/5 accounts, for each side.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import common
from bench.common import ROOT, Result, bench_env, emit, fmt_rate, proc_rss_mb, send_tasks, size

ORDERS_PER_ACCOUNT = 5
PRICE = Decimal("30.0000")
T0 = datetime(2026, 1, 10, 4, 0, tzinfo=UTC)
BROKER = os.environ.get("BENCH_CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")


def redis_ok() -> bool:
    try:
        import redis

        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
        return True
    except Exception:  # noqa: BLE001 - any failure means "no Redis"
        return False


def template(prefix: str) -> dict[str, dict[str, Any]]:
    """One real order (service-created); returns its subscription, line and order rows."""
    from plans.models import BillingMode, Cycle, Plan, PriceVersion

    plan, _ = Plan.objects.get_or_create(
        plan_id="bench-vol",
        defaults={
            "name": "bench vol",
            "plan_type": "benchvol",
            "region": "cn-north-1",
            "billing_mode": BillingMode.PREPAID,
            "cycle": Cycle.MONTH,
        },
    )
    PriceVersion.objects.get_or_create(
        plan=plan, effective_from=datetime(2025, 1, 1, tzinfo=UTC), defaults={"price": PRICE}
    )
    from bench.data import make_accounts
    from billing.models import Account
    from orders.purchase.services import purchase_order_create

    ids = make_accounts(f"{prefix}t", 1, balance=Decimal("100"))
    account = Account.objects.get(pk=next(iter(ids.values())))
    res = purchase_order_create(
        account=account, creator=None, region="cn-north-1", plan_id="bench-vol", at=T0
    )
    assert res.order is not None
    conn = common.raw_connect()
    cur = conn.cursor()
    rows = {}
    for table, where in (
        ("orders_purchaseorder", f"id = {res.order.pk}"),
        ("orders_subscription", f"id = {res.order.subscription_id}"),
        ("orders_subscriptionline", f"subscription_id = {res.order.subscription_id}"),
    ):
        cur.execute(f"SELECT * FROM {table} WHERE {where}")
        cols = [d[0] for d in cur.description]
        rows[table] = dict(zip(cols, cur.fetchone(), strict=True))
    conn.close()
    return rows


def clone(prefix: str, n: int, rows: dict[str, dict[str, Any]], *, due: bool) -> tuple[list[int], list[int]]:
    """N copies of the template order over N/5 funded accounts. Returns (account ids, line ids)."""
    from bench.data import insert_many, make_accounts

    accounts = make_accounts(prefix, max(1, n // ORDERS_PER_ACCOUNT), balance=Decimal("1000000"))
    acc_ids = list(accounts.values())
    conn = common.raw_connect()
    cur = conn.cursor()
    base = {}
    for table in ("orders_subscription", "orders_subscriptionline", "orders_purchaseorder"):
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        base[table] = int(cur.fetchone()[0]) + 1000
    sub, line, order = (
        rows["orders_subscription"],
        rows["orders_subscriptionline"],
        rows["orders_purchaseorder"],
    )
    far = datetime(2099, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    sub_ids = [base["orders_subscription"] + i for i in range(n)]
    line_ids = [base["orders_subscriptionline"] + i for i in range(n)]

    def subs() -> Any:
        for i in range(n):
            r = dict(sub)
            r.update(id=sub_ids[i], account_id=acc_ids[i % len(acc_ids)], order_ref=f"{prefix}-{i}")
            yield tuple(r.values())

    def lines() -> Any:
        for i in range(n):
            r = dict(line)
            r.update(id=line_ids[i], subscription_id=sub_ids[i])
            if not due:
                r["next_run_at"] = far
            yield tuple(r.values())

    def orders() -> Any:
        for i in range(n):
            r = dict(order)
            r.update(
                id=base["orders_purchaseorder"] + i,
                order_id=f"{prefix}-{i}",
                account_id=acc_ids[i % len(acc_ids)],
                subscription_id=sub_ids[i],
                resource_name="",
            )
            yield tuple(r.values())

    insert_many(conn, "orders_subscription", list(sub), subs())
    insert_many(conn, "orders_subscriptionline", list(line), lines())
    insert_many(conn, "orders_purchaseorder", list(order), orders())
    conn.close()
    return acc_ids, line_ids


# --- project workers ---------------------------------------------------------------------------


def _project_proc(at_iso: str, q: Any) -> None:
    common.setup_django()
    import resource

    from orders.purchase.renewal import due_lines, renewal_run

    at = datetime.fromisoformat(at_iso)
    renewed = errors = passes = 0
    # Beat sends the task every 5 minutes; a line skipped because the other worker held its account
    # is renewed by a later run. Here the next run starts at once, until nothing is due.
    while passes < 50:
        passes += 1
        summary = renewal_run(at=at, chunk_size=100)
        renewed, errors = renewed + summary.renewed, errors + summary.errors
        if not due_lines(at=at).exists():
            break
        if summary.renewed == 0:
            time.sleep(0.05)
    q.put((renewed, passes, errors, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3))


def run_project_processes(at: datetime) -> tuple[float, int, float]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.perf_counter()
    procs = [ctx.Process(target=_project_proc, args=(at.isoformat(), q)) for _ in range(2)]
    for p in procs:
        p.start()
    res = [q.get(timeout=3 * 3600) for _ in procs]
    for p in procs:
        p.join()
    return time.perf_counter() - t0, max(r[1] for r in res), max(r[3] for r in res)


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
STALL_SECONDS = 300


def _stalled_check(progress: tuple[int, float], left: int) -> tuple[int, float]:
    """Fail the run when no line of the sample was renewed for ``STALL_SECONDS`` (workers that
    never get the tasks, or fail them all) instead of waiting out the 3-hour deadline."""
    before, since = progress
    if left != before:
        return left, time.monotonic()
    if time.monotonic() - since > STALL_SECONDS:
        raise RuntimeError(
            f"B1: no renewal for {STALL_SECONDS} s with {left} sampled lines left: see "
            "/tmp/bench-b1-worker*.log and the broker the workers listen on"
        )
    return progress


def run_project_celery(at: datetime, line_ids: list[int]) -> tuple[float, int, float]:
    """Two ``celery worker`` processes on Redis; one ``orders.run_renewals`` task each."""
    import redis

    env = bench_env({"CELERY_BROKER_URL": BROKER})
    redis.Redis.from_url(BROKER).flushdb()
    logs = []
    workers = []
    for i in range(2):
        log = open(f"/tmp/bench-b1-worker{i}.log", "w")  # noqa: SIM115
        logs.append(log)
        workers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "--pool",
                    "solo",
                    "-n",
                    f"bench{i}@%h",
                    "--loglevel",
                    "WARNING",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=log,
            )
        )
    peak = 0.0
    try:
        time.sleep(4)  # let both workers connect before the tasks go out
        t0 = time.perf_counter()
        task = {"at": at.isoformat()}
        send_tasks(BROKER, "orders.run_renewals", 2, task)
        from orders.engine.models import SubscriptionLine

        deadline = time.monotonic() + 3 * 3600
        broker = redis.Redis.from_url(BROKER)
        passes = 1
        progress = (-1, time.monotonic())  # lines of the sample left, and since when
        while time.monotonic() < deadline:
            if broker.llen("celery") == 0 and passes < 50:
                # both tasks taken; what the other worker held is due again: beat's next send, early
                if SubscriptionLine.objects.filter(pk__in=line_ids, periods_billed__lt=2).exists():
                    send_tasks(BROKER, "orders.run_renewals", 2, task)
                    passes += 1
            peak = max(peak, sum(proc_rss_mb(w.pid) for w in workers) / 2)
            left = SubscriptionLine.objects.filter(pk__in=line_ids[:: max(1, len(line_ids) // 2000)]).filter(
                periods_billed__lt=2
            )
            if (
                not left.exists()
                and not SubscriptionLine.objects.filter(pk__in=line_ids, periods_billed__lt=2).exists()
            ):
                break
            progress = _stalled_check(progress, left.count())
            time.sleep(0.5)
        elapsed = time.perf_counter() - t0
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        for log in logs:
            log.close()
        redis.Redis.from_url(BROKER).flushdb()  # the order_renewed notifications nobody consumes here
    return elapsed, passes, peak


# --- baseline (bench/b1_baseline.py) ---------------------------------------------------------------


def run_baseline(line_ids: list[int]) -> tuple[float, int, float, float, int]:
    """Two baseline processes; returns (seconds, renewed, peak RSS MB, statements per committed
    chunk, statements of attempts that found their rows locked by the other process)."""
    from bench.b1_baseline import baseline_proc

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.perf_counter()
    from django.conf import settings

    args = (min(line_ids), max(line_ids), PRICE, settings.TALLY_TIME_ZONE, q)
    procs = [ctx.Process(target=baseline_proc, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    res = [q.get(timeout=3 * 3600) for _ in procs]
    for p in procs:
        p.join()
    chunks = sum(r[1] for r in res)
    per_chunk = sum(r[2] for r in res) / chunks if chunks else float("nan")
    wasted = sum(r[3] for r in res)
    return time.perf_counter() - t0, sum(r[0] for r in res), max(r[4] for r in res), per_chunk, wasted


def project_statements_per_chunk(prefix: str, rows: dict[str, dict[str, Any]], at: datetime) -> float:
    """Statements the project sends per chunk of 100, counted on a probe of 199 cloned due lines
    (+ the template's: two chunks) renewed in this process before the measured runs, through
    ``connection.execute_wrapper``. Includes each chunk's due-lines read; the transaction control
    (``SET autocommit``, ``COMMIT``: 3 round trips per chunk, Django's ``atomic()``) is not a
    statement of the wrapper and is added separately in the output."""
    from django.db import connection

    from orders.purchase.renewal import renewal_run

    clone(prefix, 199, rows, due=True)
    count = [0]

    def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        summary = renewal_run(at=at, chunk_size=100)
    chunks = -(-summary.renewed // 100)
    return (count[0] - 1) / chunks if chunks else float("nan")  # minus the last, empty, due read


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def main() -> int:
    if not common.bootstrap("B1"):
        return 0
    from bench.project import renewal_adapter

    if renewal_adapter() is None:
        common.print_skip("B1", "orders.purchase.renewal.renewal_run not found")
        return 0
    n = size("B1")
    mode = os.environ.get("BENCH_B1_MODE") or ("celery" if common.SCALE == "full" else "processes")
    if mode == "celery" and not (redis_ok() and shutil.which(sys.executable)):
        mode = "processes"
    if mode == "processes":
        os.environ.setdefault("CELERY_BROKER_URL", BROKER if redis_ok() else "filesystem://")
    prefix = f"b1x{random.randrange(10**6)}"
    rows = template(prefix)
    at = rows["orders_subscriptionline"]["next_run_at"].replace(tzinfo=UTC) + timedelta(hours=1)
    proj_stmts = project_statements_per_chunk(f"{prefix}q", rows, at)
    proj_accounts, proj_lines = clone(f"{prefix}p", n, rows, due=True)
    base_accounts, base_lines = clone(f"{prefix}b", n, rows, due=False)

    base_s, base_done, base_rss, base_stmts, base_skipped = run_baseline(base_lines)
    if mode == "celery":
        proj_s, passes, proj_rss = run_project_celery(at, proj_lines)
    else:
        proj_s, passes, proj_rss = run_project_processes(at)

    from bench.data import derived_mismatches, ledger_mismatches
    from orders.engine.models import SubscriptionLine
    from usage.models import UsageRecord

    billed = SubscriptionLine.objects.filter(pk__in=proj_lines, periods_billed=2).count()
    over = SubscriptionLine.objects.filter(pk__in=proj_lines, periods_billed__gt=2).count()
    records = UsageRecord.objects.filter(
        line_id__in=proj_lines, kind="renew", order_ref__startswith=f"{prefix}p-"
    ).count()
    mismatches = ledger_mismatches(proj_accounts) + ledger_mismatches(base_accounts)
    derived = derived_mismatches(proj_accounts) + derived_mismatches(base_accounts)
    for problem in derived[:5]:
        print(f"B1 derived rows wrong: {problem}", file=sys.stderr)
    checks_ok = (
        billed == n and over == 0 and records == n and not mismatches and not derived and base_done == n
    )
    proj_rate, base_rate = n / proj_s, n / base_s
    ratio = proj_rate / base_rate
    how = (
        "2 celery workers on Redis"
        if mode == "celery"
        else "2 OS processes calling renewal_run (no broker hop)"
    )
    emit(
        Result(
            "B1",
            "billing run",
            f"{n:,} due subscriptions over {len(proj_accounts):,} accounts",
            f"{fmt_rate(proj_rate, 'sub')} ({proj_s:.1f} s)",
            f"{fmt_rate(base_rate, 'sub')} ({base_s:.1f} s)",
            f"{ratio:.2f}x",
            peak_memory=f"{proj_rss:.0f} MB per worker (baseline {base_rss:.0f} MB)",
            target=">= 0.8x the set-based SQL baseline's rate; memory flat in N",
            verdict="MET" if ratio >= 0.8 and checks_ok else ("MISSED" if checks_ok else "FAILED"),
            notes=f"{how}; statements per chunk of 100: project {proj_stmts:.1f} + 3 transaction "
            f"round trips, baseline {base_stmts:.1f} incl. COMMIT (bench/b1_baseline.py; +{base_skipped} "
            "in attempts that met the other process's locks); "
            f"{passes} renewal_run sends per worker until nothing was due; "
            f"billed once {billed:,}/{n:,}, twice {over}, renew records {records:,}, "
            f"balance==ledger {'yes' if not mismatches else f'NO ({len(mismatches)})'}, "
            f"entry counts and rollups == ledger and records (both sides) "
            f"{'yes' if not derived else f'NO ({len(derived)})'}",
            numbers={
                "n": n,
                "rate": proj_rate,
                "base_rate": base_rate,
                "ratio": ratio,
                "worker_rss_mb": proj_rss,
                "project_statements_per_chunk": proj_stmts,
                "baseline_statements_per_chunk": base_stmts,
            },
            checks_ok=checks_ok,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
