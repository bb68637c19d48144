"""B4: ingest N meter events in batches of 1000 with dedupe (docs/benchmarks.md).

Project: ``orders.package.metering.meter_events_ingest`` (what ``POST /api/v1/meter-events``
calls): parse and validate each event, resolve instance -> postpaid line, drop duplicates, insert.
Baseline: a raw multi-row ``INSERT IGNORE`` of the same rows through MySQLdb, with the line ids
known beforehand (no validation at all: the floor). Each batch resends 10% of the previous batch's
events of the same account (duplicates that must be counted, not stored).

Project and baseline batches alternate (different event ids, same table), so the table grows
equally under both and machine noise hits both alike. Target: >= 0.5x the baseline and
>= 10,000 events/s.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import common
from bench.common import Result, emit, fmt_rate, measured, size

BATCH = 1_000
ACCOUNTS = 10
SUBS_PER_ACCOUNT = 10
RESEND = 0.10


def build(prefix: str, accounts: int) -> dict[int, list[tuple[str, int]]]:
    """ACCOUNTS accounts with SUBS_PER_ACCOUNT running postpaid purchase subscriptions each.
    Returns account id -> [(instance ref, line id)]."""
    from bench.data import make_accounts
    from orders.engine.models import (
        LineStatus,
        Subscription,
        SubscriptionKind,
        SubscriptionLine,
        SubscriptionStatus,
    )
    from plans.models import BillingMode, Cycle, Plan

    plan, _ = Plan.objects.get_or_create(
        plan_id="bench-postpaid",
        defaults={
            "name": "bench postpaid",
            "plan_type": "bench",
            "billing_mode": BillingMode.POSTPAID,
            "cycle": Cycle.MONTH,
        },
    )
    ids = make_accounts(prefix, accounts)
    anchor = datetime.now(UTC) - timedelta(days=1)
    out: dict[int, list[tuple[str, int]]] = {}
    for ns, account_id in ids.items():
        subs = Subscription.objects.bulk_create(
            [
                Subscription(
                    account_id=account_id,
                    kind=SubscriptionKind.PURCHASE,
                    order_ref=f"{ns}-s{i}",
                    status=SubscriptionStatus.BILLING,
                    anchor=anchor,
                )
                for i in range(SUBS_PER_ACCOUNT)
            ]
        )
        lines = SubscriptionLine.objects.bulk_create(
            [
                SubscriptionLine(
                    subscription=s,
                    plan=plan,
                    billing_mode=BillingMode.POSTPAID,
                    cycle=Cycle.MONTH,
                    price=Decimal("0.8000"),
                    status=LineStatus.RUNNING,
                )
                for s in subs
            ]
        )
        out[account_id] = [(s.order_ref, ln.pk) for s, ln in zip(subs, lines, strict=True)]
    return out


def make_batches(
    tag: str, n: int, subs: dict[int, list[tuple[str, int]]], seed: int
) -> list[tuple[int, list[dict[str, Any]], dict[str, int]]]:
    """(account id, events, instance -> line id) per batch; ~RESEND of each batch are resends."""
    rng = random.Random(seed)
    # account-major order, so an account's later batches resend part of its earlier one
    accounts = sorted(subs)
    per_account = max(1, -(-n // BATCH) // len(accounts))
    now = datetime.now(UTC)
    batches = []
    last: dict[int, list[dict[str, Any]]] = {}
    made = 0
    k = 0
    while made < n:
        account_id = accounts[min(k // per_account, len(accounts) - 1)]
        k += 1
        count = min(BATCH, n - made)
        prev = last.get(account_id, [])
        resend = prev[: int(count * RESEND)]
        events = list(resend)
        for j in range(count - len(resend)):
            ref, _ = subs[account_id][rng.randrange(SUBS_PER_ACCOUNT)]
            events.append(
                {
                    "event_id": f"{tag}-{k}-{j}",
                    "instance": ref,
                    "component_id": "",
                    "quantity": str(Decimal(rng.randrange(1, 10_000)) / Decimal(100)),
                    "timestamp": (now - timedelta(seconds=rng.randrange(3600))).isoformat(),
                }
            )
        rng.shuffle(events)
        last[account_id] = events
        batches.append((account_id, events, dict(subs[account_id])))
        made += count
    return batches


def baseline_batch(conn: Any, account_id: int, events: list[dict[str, Any]], line_of: dict[str, int]) -> int:
    created = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for ev in events:
        ts = datetime.fromisoformat(ev["timestamp"]).astimezone(UTC).replace(tzinfo=None)
        rows.append(
            (
                account_id,
                ev["event_id"],
                line_of[ev["instance"]],
                ev["instance"],
                "",
                ev["quantity"],
                ts,
                created,
            )
        )
    marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    flat = [v for r in rows for v in r]
    cur = conn.cursor()
    inserted = cur.execute(
        "INSERT IGNORE INTO usage_meterevent (account_id, event_id, line_id, instance_ref, component_id, "
        f"quantity, timestamp, created_at) VALUES {marks}",
        flat,
    )
    conn.commit()
    return int(inserted)


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def main() -> int:
    if not common.bootstrap("B4"):
        return 0
    from django.db import connection

    from bench.common import raw_connect
    from bench.project import metering_adapter

    n = size("B4")
    prefix = f"b4x{random.randrange(10**6)}"
    subs = build(prefix, max(1, min(ACCOUNTS, n // BATCH // 3)))
    adapter = metering_adapter()
    base_batches = make_batches(f"{prefix}b", n, subs, seed=1)
    proj_batches = make_batches(f"{prefix}p", n, subs, seed=2)
    conn = raw_connect()
    base_s = proj_s = 0.0
    base_accepted = proj_accepted = proj_dups = 0
    proj_rejected = 0
    base_lat: list[float] = []
    proj_lat: list[float] = []
    peak_delta = 0.0
    with measured() as whole:
        for i, (account_id, events, line_of) in enumerate(base_batches):
            t0 = time.perf_counter()
            base_accepted += baseline_batch(conn, account_id, events, line_of)
            dt = time.perf_counter() - t0
            base_s += dt
            base_lat.append(dt)
            if adapter is not None:
                p_account, p_events, _ = proj_batches[i]
                t0 = time.perf_counter()
                res = adapter[1](p_account, p_events)
                dt = time.perf_counter() - t0
                proj_s += dt
                proj_lat.append(dt)
                proj_accepted += res[0]
                proj_dups += res[1]
                proj_rejected += res[2]
        peak_delta = whole.delta_rss_mb
    conn.close()
    connection.close()
    base_rate = n / base_s
    if adapter is None:
        emit(
            Result(
                "B4",
                "metering",
                f"{n:,} events in batches of {BATCH}",
                "n/a (metering service not found)",
                fmt_rate(base_rate, "ev"),
                "n/a",
                target=">= 0.5x baseline, >= 10,000 ev/s",
                verdict="SKIPPED",
            )
        )
        return 0
    proj_rate = n / proj_s
    ratio = proj_rate / base_rate
    stored = _count_stored(f"{prefix}p-")
    checks_ok = proj_rejected == 0 and proj_accepted == stored and proj_accepted + proj_dups == n
    met = ratio >= 0.5 and proj_rate >= 10_000

    emit(
        Result(
            "B4",
            "metering",
            f"{n:,} events in batches of {BATCH} ({int(RESEND * 100)}% resent)",
            fmt_rate(proj_rate, "ev"),
            fmt_rate(base_rate, "ev"),
            f"{ratio:.2f}x",
            latency=f"{_p(proj_lat, 50)}/{_p(proj_lat, 99)} ms per batch "
            f"(baseline {_p(base_lat, 50)}/{_p(base_lat, 99)})",
            peak_memory=f"+{peak_delta:.1f} MB RSS",
            target=">= 0.5x baseline, >= 10,000 ev/s",
            verdict="MET" if met else "MISSED",
            notes=f"path {adapter[0]}; accepted {proj_accepted:,}, duplicates {proj_dups:,}, "
            f"rejected {proj_rejected}, stored {stored:,} (baseline stored {base_accepted:,})",
            numbers={"n": n, "rate": proj_rate, "base_rate": base_rate, "ratio": ratio},
            checks_ok=checks_ok,
        )
    )
    return 0


def _p(values: list[float], pct: float) -> str:
    from bench.common import percentile

    return f"{percentile(values, pct) * 1000:.1f}"


def _count_stored(id_prefix: str) -> int:
    from usage.models import MeterEvent

    return MeterEvent.objects.filter(event_id__startswith=id_prefix).count()


if __name__ == "__main__":
    sys.exit(main())
