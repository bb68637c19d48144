"""B3: the monthly report per account and per order over N usage records (docs/benchmarks.md).

Project: the usage report selector (``usage.selectors``), per account and per order, for one month
holding all N records of the benchmark's accounts. A report counts the money that moved (issue
15): every record is paid by a ledger entry booked in the month, and one in 50 is billed into
arrears instead (shown beside the money). Since issue 20 one record in three carries a promotion's
discount and one in five is a ``correction`` (every other one a refund: negative), so the report's
gross, discount and corrections are measured and compared too. Since issue 21 (B3) the report reads
the usage rollups (``usage.rollups``), which the writers keep in their transaction; the records are
inserted here by raw SQL, so they are rolled up through ``usage.rollups.add_rows`` (timed apart).
Baseline, in the same run: the raw GROUP BY statements over the records (paid by an entry of the
month, paid without an entry, arrears) through MySQLdb. Target: the project's call <= 200 ms and
>= 50x faster than the baseline, every row equal to the baseline's (money, records, arrears,
arrears records, gross, discount, corrections, correction records); peak memory < 300 MB (the RSS
peak of this process during the call, above the RSS before it).
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import common
from bench.common import Result, emit, fmt_ms, fmt_rate, measured, size

ACCOUNTS = 1_000
ORDERS_PER_ACCOUNT = 10
REPEAT = 3
TARGET = "<= 200 ms and >= 50x faster than the raw GROUP BY, rows equal, < 300 MB"


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
    kinds = ["renew", "hourly", "usage", "new", "correction"]
    minutes_in_month = 29 * 24 * 60

    conn = raw_connect()
    cur = conn.cursor()
    cur.execute("SELECT COALESCE(MAX(id), 0) FROM billing_ledgerentry")
    first_entry = cur.fetchone()[0] + 1

    def plan() -> Any:  # (i, account index, start, amount, arrears): the same stream on every call
        rng = random.Random(3)
        for i in range(n):
            start = month_start + timedelta(minutes=rng.randrange(minutes_in_month))
            amount = Decimal(rng.randrange(1, 100_000)) / Decimal(100)
            if kinds[i % 5] == "correction" and i % 2:
                amount = -amount  # a voided event's refund
            yield i, i % ACCOUNTS, start, amount, i % 50 == 49 and amount > 0  # a refund is never owed

    def discount(i: int, amount: Decimal) -> Decimal:  # a promotion on one charge in three
        return (amount / 9).quantize(Decimal("0.01")) if i % 3 == 0 and amount > 0 else Decimal(0)

    def entries() -> Any:  # one charge per paid record, booked a minute after its period starts
        for i, acc_idx, start, amount, arrears in plan():
            if arrears:
                continue
            yield (
                first_entry + i,
                account_ids[acc_idx],
                -amount,
                Decimal(0),
                "charge" if amount > 0 else "refund",
                "usage_record",
                str(i + 1),
                f"{prefix}:{i}",
                "",
                start + timedelta(minutes=1),
            )

    def rollup_rows() -> Any:  # what the writers hand usage.rollups: the same rows, aware times
        for i, acc_idx, start, amount, arrears in plan():
            order_idx = (i // ACCOUNTS) % ORDERS_PER_ACCOUNT
            at = start.replace(tzinfo=UTC)
            paid = at + timedelta(minutes=1)
            yield (
                i,
                account_ids[acc_idx],
                "purchase",
                f"{prefix}-o{acc_idx}-{order_idx}",
                "cn-north-1",
                None,
                kinds[i % 5],
                "arrears" if arrears else "paid",
                amount,
                at if arrears else created.replace(tzinfo=UTC),
                None if arrears else paid,
                None if arrears else first_entry + i,
                discount(i, amount),
                None if arrears else paid,
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
                discount(i, amount),
                kinds[i % 5],
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
                "discount",
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
    roll_up(rollup_rows())
    return account_ids, "2026-06"


def roll_up(rows: Any) -> None:
    """The rollups of the raw-inserted records, through ``usage.rollups`` (the writers' code: one
    set of upserts); timed apart, it is the write side's cost, not the report's."""
    import time

    from usage import rollups

    began = time.monotonic()
    n = rollups.add_rows(rows)
    ROLLUP_SECONDS.append(time.monotonic() - began)
    print(f"B3: {n:,} records rolled up in {ROLLUP_SECONDS[-1]:.1f} s", flush=True)


ROLLUP_SECONDS: list[float] = []
# per grouping: key -> (money moved, records, arrears, arrears records, gross, discount,
# corrections, correction records); the last four of the money moved (issue 20)
Figures = tuple[Decimal, int, Decimal, int, Decimal, Decimal, Decimal, int]
Groups = dict[str, dict[tuple[str, ...], Figures]]
NONE: Figures = (Decimal(0), 0, Decimal(0), 0, Decimal(0), Decimal(0), Decimal(0), 0)


def baseline(month: str, account_ids: list[int]) -> Groups:
    """The report's statements over the records (grouped rows, per account and per order: paid by
    an entry of the month, paid without an entry, arrears) in raw SQL, every row fetched into
    Python: the raw GROUP BY the project's report must equal row for row."""
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
        groups: Groups = {"account": {}, "order": {}}
        plan_join = "LEFT JOIN plans_plan p ON p.id = u.plan_id "
        for by, keys, joins in (
            ("account", "a.namespace", ""),
            ("order", "a.namespace, u.order_ref, u.region, p.plan_id", plan_join),
        ):
            for index, where in enumerate(wheres):
                cur.execute(
                    f"SELECT {keys}, SUM(u.amount), COUNT(u.id), SUM(u.discount), "
                    "SUM(CASE WHEN u.kind = 'correction' THEN u.amount ELSE 0 END), "
                    "SUM(CASE WHEN u.kind = 'correction' THEN 1 ELSE 0 END) FROM usage_usagerecord u "
                    f"JOIN billing_account a ON a.id = u.account_id {joins}{where} "
                    f"AND u.account_id IN ({', '.join(['%s'] * len(account_ids))}) GROUP BY {keys}",
                    (start, end, *account_ids),
                )
                for row in cur.fetchall():
                    key = tuple(k or "" for k in row[:-5])
                    money, n, discount = Decimal(row[-5]), int(row[-4]), Decimal(row[-3])
                    fixed, fixed_n = Decimal(row[-2]), int(row[-1])
                    had = groups[by].get(key, NONE)
                    if index < 2:
                        groups[by][key] = (
                            had[0] + money, had[1] + n, had[2], had[3],
                            had[4] + money + discount, had[5] + discount, had[6] + fixed, had[7] + fixed_n,
                        )  # fmt: skip
                    else:  # arrears: beside the money
                        groups[by][key] = (had[0], had[1], had[2] + money, had[3] + n, *had[4:])  # type: ignore[assignment]
        return groups
    finally:
        conn.rollback()
        conn.close()


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def main() -> int:
    if not common.bootstrap("B3"):
        return 0
    from bench.project import report_adapter

    n = size("B3")
    adapter = report_adapter()
    account_ids, month = build(n, f"b3x{random.randrange(10**6)}")
    # Warm both paths once (connection, query cache of the server pages) before timing.
    base_groups = baseline(month, account_ids)
    base_times: list[float] = []
    for _ in range(REPEAT):
        with measured() as bm:
            baseline(month, account_ids)
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
                target=TARGET,
                verdict="SKIPPED",
                notes=f"baseline groups: {len(base_groups['account'])} accounts, "
                f"{len(base_groups['order'])} orders",
            )
        )
        return 0
    label, run = adapter
    groups = run(month, account_ids)
    proj_times: list[float] = []
    peak_delta = 0.0
    peak_abs = 0.0
    for _ in range(REPEAT):
        with measured() as pm:
            groups = run(month, account_ids)
        proj_times.append(pm.seconds)
        peak_delta = max(peak_delta, pm.delta_rss_mb)
        peak_abs = max(peak_abs, pm.peak_rss_mb)
    proj = min(proj_times)
    speedup = base / proj
    # row for row: every key, its money, records, arrears, arrears records, gross, discount and
    # corrections
    mismatched = sum(
        1 for by in ("account", "order") for key in set(groups[by]) | set(base_groups[by])
        if groups[by].get(key) != base_groups[by].get(key)
    )  # fmt: skip
    checks_ok = mismatched == 0 and len(base_groups["order"]) > 0
    met = proj <= 0.2 and speedup >= 50 and peak_delta < 300
    total = sum((v[0] for v in groups["account"].values()), Decimal(0))
    emit(
        Result(
            "B3",
            "report",
            f"{n:,} usage records ({ACCOUNTS:,} accounts, {ACCOUNTS * ORDERS_PER_ACCOUNT:,} orders)",
            f"{fmt_rate(n / proj, 'rec')} ({fmt_ms(proj)})",
            f"{fmt_rate(n / base, 'rec')} ({fmt_ms(base)})",
            f"{speedup:.1f}x faster than the raw GROUP BY",
            peak_memory=f"+{peak_delta:.1f} MB over {peak_abs - peak_delta:.0f} MB RSS",
            target=TARGET,
            verdict="MET" if met else "MISSED",
            notes=f"path {label} (usage rollups); rows equal: {len(groups['account'])} accounts / "
            f"{len(groups['order'])} orders, total {total}; rollups written in {ROLLUP_SECONDS[-1]:.1f} s"
            + ("" if checks_ok else f"; MISMATCH: {mismatched} row(s) differ from the raw GROUP BY"),
            numbers={
                "n": n,
                "project_s": proj,
                "baseline_s": base,
                "speedup": speedup,
                "ratio": proj / base,
                "rollup_write_s": ROLLUP_SECONDS[-1],
                "peak_delta_mb": peak_delta,
            },
            checks_ok=checks_ok,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
