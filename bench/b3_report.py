"""B3: the monthly report per account and per order over N usage records (docs/benchmarks.md).

Project: the usage report selector (``usage.selectors``), per account and per order, for one month
holding all N records (the worst case: every record is aggregated). A report counts the money that
moved (issue 15): every record is paid by a ledger entry booked in the month, and one in 50 is
billed into arrears instead (shown beside the money). Baseline: the same GROUP BY statements (paid
by an entry of the month, paid without an entry, arrears) in raw SQL through MySQLdb. Target:
<= 2x the baseline's time; peak memory of the project's call < 300 MB (measured as the RSS peak of
this process during the call, above the RSS before it).
"""

from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import common
from bench.common import Result, emit, fmt_ms, fmt_rate, measured, size

ACCOUNTS = 1_000
ORDERS_PER_ACCOUNT = 10
REPEAT = 3


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def build(n: int, prefix: str) -> tuple[list[int], str]:
    """N usage records of ``ACCOUNTS`` accounts x ``ORDERS_PER_ACCOUNT`` orders, all in one month
    (local month of TALLY_TIME_ZONE). Returns the account ids and the month ``YYYY-MM``."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from bench.data import insert_many, make_accounts, now_utc, raw_connect

    month_start = (
        datetime(2026, 6, 1, tzinfo=ZoneInfo(settings.TALLY_TIME_ZONE))
        .astimezone(ZoneInfo("UTC"))
        .replace(tzinfo=None)
    )
    ids = make_accounts(prefix, ACCOUNTS)
    account_ids = list(ids.values())
    created = now_utc()
    kinds = ["renew", "hourly", "usage", "new"]
    minutes_in_month = 29 * 24 * 60

    conn = raw_connect()
    cur = conn.cursor()
    cur.execute("SELECT COALESCE(MAX(id), 0) FROM billing_ledgerentry")
    first_entry = cur.fetchone()[0] + 1

    def plan() -> Any:  # (i, account index, start, amount, arrears): the same stream on every call
        rng = random.Random(3)
        for i in range(n):
            start = month_start + timedelta(minutes=rng.randrange(minutes_in_month))
            yield i, i % ACCOUNTS, start, Decimal(rng.randrange(1, 100_000)) / Decimal(100), i % 50 == 49

    def entries() -> Any:  # one charge per paid record, booked a minute after its period starts
        for i, acc_idx, start, amount, arrears in plan():
            if arrears:
                continue
            yield (
                first_entry + i,
                account_ids[acc_idx],
                -amount,
                Decimal(0),
                "charge",
                "usage_record",
                str(i + 1),
                f"{prefix}:{i}",
                "",
                start + timedelta(minutes=1),
            )

    def rows() -> Any:
        for i, acc_idx, start, amount, arrears in plan():
            order_idx = (i // ACCOUNTS) % ORDERS_PER_ACCOUNT
            yield (
                account_ids[acc_idx],
                "purchase",
                f"{prefix}-o{acc_idx}-{order_idx}",
                i + 1,
                f"p:{i}",
                "cn-north-1",
                "",
                start,
                start + timedelta(hours=1),
                Decimal(1),
                amount,
                amount,
                kinds[i % 4],
                "arrears" if arrears else "paid",
                start if arrears else created,
                None if arrears else first_entry + i,
                None if arrears else start + timedelta(minutes=1),
            )

    try:
        insert_many(
            conn,
            "billing_ledgerentry",
            [
                "id",
                "account_id",
                "amount",
                "balance_after",
                "kind",
                "subject_type",
                "subject_id",
                "idempotency_key",
                "memo",
                "created_at",
            ],
            entries(),
        )
        insert_many(
            conn,
            "usage_usagerecord",
            [
                "account_id",
                "source",
                "order_ref",
                "line_id",
                "period_key",
                "region",
                "component_id",
                "period_start",
                "period_end",
                "quantity",
                "unit_price",
                "amount",
                "kind",
                "status",
                "created_at",
                "ledger_entry_id",
                "paid_at",
            ],
            rows(),
        )
        conn.cursor().execute("ANALYZE TABLE usage_usagerecord")
        conn.cursor().execute("ANALYZE TABLE billing_ledgerentry")
    finally:
        conn.close()
    return account_ids, "2026-06"


def baseline(month: str) -> tuple[int, int, Decimal]:
    """The same statements as the selector (grouped rows + totals, per account and per order) in
    raw SQL, every row fetched into Python."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from bench.common import raw_connect

    tz = ZoneInfo(settings.TALLY_TIME_ZONE)
    y, m = (int(x) for x in month.split("-"))
    start = datetime(y, m, 1, tzinfo=tz).astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    end_local = datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=tz)
    end = end_local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    conn = raw_connect()
    try:
        cur = conn.cursor()
        wheres = (  # paid by an entry of the month, paid without an entry, arrears billed in the month
            "JOIN billing_ledgerentry l ON l.id = u.ledger_entry_id "
            "WHERE u.status = 'paid' AND l.created_at >= %s AND l.created_at < %s",
            "WHERE u.status = 'paid' AND u.ledger_entry_id IS NULL AND u.paid_at >= %s AND u.paid_at < %s",
            "WHERE u.status = 'arrears' AND u.created_at >= %s AND u.created_at < %s",
        )
        groups: dict[str, dict[tuple[Any, ...], Decimal]] = {"account": {}, "order": {}}
        plan_join = "LEFT JOIN plans_plan p ON p.id = u.plan_id "
        for by, keys, joins in (
            ("account", "a.namespace", ""),
            ("order", "a.namespace, u.order_ref, u.region, p.plan_id", plan_join),
        ):
            for index, where in enumerate(wheres):
                cur.execute(
                    f"SELECT {keys}, SUM(u.amount), COUNT(u.id) FROM usage_usagerecord u "
                    f"JOIN billing_account a ON a.id = u.account_id {joins}{where} GROUP BY {keys}",
                    (start, end),
                )
                for row in cur.fetchall():
                    key = tuple(row[:-2])
                    money = Decimal(row[-2]) if index < 2 else Decimal(0)  # arrears: beside the money
                    groups[by][key] = groups[by].get(key, Decimal(0)) + money
        total = sum(groups["account"].values(), Decimal(0))
        return len(groups["account"]), len(groups["order"]), total
    finally:
        conn.rollback()
        conn.close()


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def main() -> int:
    if not common.bootstrap("B3"):
        return 0
    from bench.project import report_adapter

    n = size("B3")
    adapter = report_adapter()
    account_ids, month = build(n, f"b3x{random.randrange(10**6)}")
    # Warm both paths once (connection, query cache of the server pages) before timing.
    base_shape = baseline(month)
    base_times: list[float] = []
    for _ in range(REPEAT):
        with measured() as bm:
            baseline(month)
        base_times.append(bm.seconds)
    base = min(base_times)
    if adapter is None:
        emit(
            Result(
                "B3",
                "report",
                f"{n:,} usage records",
                "n/a (usage report selector not found)",
                f"{fmt_rate(n / base, 'rec')} ({fmt_ms(base)})",
                "n/a",
                target="<= 2x baseline time, < 300 MB",
                verdict="SKIPPED",
                notes=f"baseline groups: {base_shape[0]} accounts, {base_shape[1]} orders",
            )
        )
        return 0
    label, run = adapter
    shape = run(month)
    proj_times: list[float] = []
    peak_delta = 0.0
    peak_abs = 0.0
    for _ in range(REPEAT):
        with measured() as pm:
            shape = run(month)
        proj_times.append(pm.seconds)
        peak_delta = max(peak_delta, pm.delta_rss_mb)
        peak_abs = max(peak_abs, pm.peak_rss_mb)
    proj = min(proj_times)
    ratio = proj / base
    checks_ok = (shape[0], shape[1]) == (base_shape[0], base_shape[1]) and shape[2] == base_shape[2]
    met = ratio <= 2.0 and peak_delta < 300
    emit(
        Result(
            "B3",
            "report",
            f"{n:,} usage records ({ACCOUNTS:,} accounts, {ACCOUNTS * ORDERS_PER_ACCOUNT:,} orders)",
            f"{fmt_rate(n / proj, 'rec')} ({fmt_ms(proj)})",
            f"{fmt_rate(n / base, 'rec')} ({fmt_ms(base)})",
            f"{ratio:.2f}x baseline time",
            peak_memory=f"+{peak_delta:.1f} MB over {peak_abs - peak_delta:.0f} MB RSS",
            target="<= 2x baseline time, < 300 MB",
            verdict="MET" if met else "MISSED",
            notes=f"path {label}; groups {shape[0]} accounts / {shape[1]} orders"
            + ("" if checks_ok else f"; MISMATCH vs baseline {base_shape}"),
            numbers={
                "n": n,
                "project_s": proj,
                "baseline_s": base,
                "ratio": ratio,
                "peak_delta_mb": peak_delta,
            },
            checks_ok=checks_ok,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
