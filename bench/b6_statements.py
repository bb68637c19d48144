"""B6: issue the monthly statements of N accounts with 10 x N ledger entries in the month, docs/benchmarks.md.

Data (raw multi-row INSERTs, the rows the services write): N accounts created before the month, one
opening recharge each before it, and 10 entries each in it: a recharge, 4 order charges (each with
its usage record, 2 orders), 3 metered charges (with their quota usage rows; the month's free quota
used up), a refund of an order and an adjustment. Entries of one account are inserted in time order.

Project: ``BENCH_B6_WORKERS`` (default 2) OS processes, each taking ``StatementBatch`` slices with
SKIP LOCKED through ``billing.statements.services.statement_batch_issue_next`` (what the
``billing.issue_statement_batches`` task loops over) until none is left. PDF, notification and
credit-note tasks are enqueued after each chunk's commit as in production (to an in-memory broker
here: the data part is what is measured). Baseline: the same aggregation in hand-written SQL through
MySQLdb, per slice, in the same number of processes, with SKIP LOCKED slices and the same rows
written with multi-row INSERTs into copies of the statement tables. Target: >= 0.5x the baseline's
rate; memory flat in N (peak RSS per worker; one chunk in memory).

PDF rendering is measured separately: ``render.documents_render`` of a sample, one process.

Correctness (fails the run, never the speed): one statement per account, numbers gap-free, closing
== opening + lines == the account's balance for every statement, the baseline's totals equal the
project's, no slice left pending, every sampled PDF stored with its SHA-256.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import common
from bench.common import Result, emit, fmt_rate, size

ENTRIES_PER_ACCOUNT = 10
CHUNK = int(os.environ.get("BENCH_B6_CHUNK", "500"))
WORKERS = int(os.environ.get("BENCH_B6_WORKERS", "2"))
PDF_SAMPLE = {"small": 10, "medium": 40, "full": 100}
D = Decimal


def _period() -> Any:
    from billing.statements.periods import parse_period

    # A month of its own per run (2001-2019), so a re-run on the same database starts clean.
    month = random.Random().randrange(12 * 19)
    return parse_period(f"{2001 + month // 12}-{month % 12 + 1:02d}")


def _naive(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(tzinfo=None)


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def build(n: int, prefix: str, period: Any) -> list[int]:
    """N accounts and their ledgers; returns the account ids."""
    from bench.data import insert_many

    conn = common.raw_connect()
    cur = conn.cursor()
    cur.execute("SELECT id FROM plans_meteredservice WHERE service = 'passport'")
    service_id = int(cur.fetchone()[0])
    ids = {}
    for table in ("billing_account", "billing_ledgerentry", "billing_monthlyquota", "usage_usagerecord"):
        cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
        ids[table] = int(cur.fetchone()[0]) + 1
    start, end = period.start, period.end
    span = int((end - start).total_seconds()) - 120
    created = _naive(start - timedelta(days=10))
    rng = random.Random(6)
    account_ids = list(range(ids["billing_account"], ids["billing_account"] + n))
    next_entry = ids["billing_ledgerentry"]
    next_quota = ids["billing_monthlyquota"]
    next_usage = ids["usage_usagerecord"]
    plan = [  # (kind, amount, subject_type, order index or None)
        ("recharge", D("50"), "recharge", None),
        ("charge", D("-30"), "purchase_order", 0),
        ("charge", D("-0.5"), "quota_request", None),
        ("charge", D("-12.5"), "purchase_order", 1),
        ("charge", D("-0.5"), "quota_request", None),
        ("charge", D("-30"), "purchase_order", 0),
        ("refund", D("3"), "purchase_order", 1),
        ("charge", D("-0.5"), "quota_request", None),
        ("adjustment", D("-1"), "", None),
        ("charge", D("-12.5"), "purchase_order", 1),
    ]
    accounts, entries, usages, quotas, quota_usages = [], [], [], [], []

    # Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
    def flush() -> None:
        insert_many(
            conn,
            "billing_account",
            ["id", "namespace", "currency", "balance", "created_at", "updated_at"],
            accounts,
        )
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
                "memo",
                "idempotency_key",
                "created_at",
            ],
            entries,
        )
        insert_many(
            conn,
            "billing_monthlyquota",
            ["id", "account_id", "service_id", "month", "total", "used", "created_at", "updated_at"],
            quotas,
        )
        insert_many(
            conn,
            "billing_quotausage",
            [
                "account_id",
                "service_id",
                "quota_id",
                "request_id",
                "count",
                "free_count",
                "paid_count",
                "unit_price",
                "amount",
                "balance_after",
                "ledger_entry_id",
                "created_at",
            ],
            quota_usages,
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
                "ledger_entry_id",
                "created_at",
            ],
            usages,
        )
        for rows in (accounts, entries, usages, quotas, quota_usages):
            rows.clear()

    for i, account_id in enumerate(account_ids):
        ns = f"{prefix}-{i}"
        balance = D("1000")
        entries.append(
            (
                next_entry,
                account_id,
                balance,
                balance,
                "recharge",
                "recharge",
                f"{ns}-open",
                "",
                f"{ns}:open",
                _naive(start - timedelta(days=5)),
            )
        )
        next_entry += 1
        quota_id = next_quota
        next_quota += 1
        quotas.append((quota_id, account_id, service_id, period.month, 10000, 10000, created, created))
        offsets = sorted(rng.randrange(span) for _ in plan)
        for j, ((kind, amount, subject_type, order), offset) in enumerate(zip(plan, offsets, strict=True)):
            at = _naive(start + timedelta(seconds=offset + 60))
            balance += amount
            subject_id = {"recharge": f"{ns}-r{j}", "quota_request": f"{ns}-q{j}", "": ""}.get(
                subject_type, f"{ns}-o{order}"
            )
            memo = "bench adjustment" if kind == "adjustment" else ""
            entries.append(
                (
                    next_entry,
                    account_id,
                    amount,
                    balance,
                    kind,
                    subject_type,
                    subject_id,
                    memo,
                    f"{ns}:{j}",
                    at,
                )
            )
            if subject_type == "quota_request":
                quota_usages.append(
                    (
                        account_id,
                        service_id,
                        quota_id,
                        subject_id,
                        50,
                        0,
                        50,
                        D("0.01"),
                        -amount,
                        balance,
                        next_entry,
                        at,
                    )
                )
            elif subject_type == "purchase_order":
                line_id = 10_000_000 + 2 * account_id + order  # unique across runs in one database
                usages.append(
                    (
                        account_id,
                        "purchase",
                        subject_id,
                        line_id,
                        f"p:{j}",
                        "cn-north-1",
                        "",
                        at,
                        at + timedelta(days=30),
                        D(1),
                        -amount if kind == "charge" else amount,
                        -amount,
                        "renew" if kind == "charge" else "refund",
                        "paid",
                        next_entry,
                        at,
                    )
                )
                next_usage += 1
            next_entry += 1
        accounts.append((account_id, ns, "CNY", balance, created, created))
        if len(accounts) >= 2000:
            flush()
    flush()
    cur.execute("ANALYZE TABLE billing_ledgerentry, billing_quotausage, usage_usagerecord, billing_account")
    cur.fetchall()
    conn.close()
    return account_ids


# --- project ----------------------------------------------------------------------------------


def _project_proc(period_label: str, q: Any) -> None:
    os.environ["CELERY_BROKER_URL"] = "memory://"  # the after-commit tasks are enqueued, not run
    common.setup_django()
    from kombu.transport.memory import Channel

    from billing.statements.periods import parse_period
    from billing.statements.services import statement_batch_issue_next

    period = parse_period(period_label)
    issued = slices = 0
    sent = 0
    while (result := statement_batch_issue_next(period=period)) is not None:
        issued += len(result.issued)
        slices += 1
        # The after-commit messages (PDFs, notifications, credit-note checks) were published; a real
        # broker holds them in its own memory, so they are counted and dropped here.
        sent += sum(q.qsize() for q in Channel.queues.values())
        Channel.queues.clear()
    if sent < slices:
        raise AssertionError(f"only {sent} after-commit messages for {slices} slices")
    q.put((issued, slices, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3))


def run_project(period: Any) -> tuple[float, int, float]:
    from billing.statements.services import statement_batches_plan

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.perf_counter()
    statement_batches_plan(period=period, chunk_size=CHUNK)
    procs = [ctx.Process(target=_project_proc, args=(period.label, q)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    res = [q.get(timeout=3 * 3600) for _ in procs]
    for p in procs:
        p.join()
    return time.perf_counter() - t0, sum(r[0] for r in res), max(r[2] for r in res)


# --- baseline ---------------------------------------------------------------------------------

GROUPS_SQL = """
SELECT l.account_id, l.kind,
  CASE WHEN l.subject_type = 'quota_request' AND l.kind = 'charge' THEN 'metered_service'
       WHEN l.kind = 'adjustment' OR l.subject_type = '' THEN 'entry' ELSE l.subject_type END AS g_type,
  CASE WHEN l.subject_type = 'quota_request' AND l.kind = 'charge' THEN '' ELSE l.subject_id END AS g_id,
  CASE WHEN l.kind = 'adjustment' OR l.subject_type = '' THEN l.id ELSE 0 END AS g_solo,
  CASE WHEN l.subject_type = 'quota_request' AND l.kind = 'charge' THEN m.service ELSE '' END AS g_service,
  CASE WHEN l.subject_type = 'quota_request' AND l.kind = 'charge' THEN q.unit_price ELSE NULL END AS g_price,
  COUNT(l.id), SUM(l.amount), SUM(q.paid_count), MIN(l.created_at), MAX(l.created_at), MAX(l.id), MAX(l.memo)
FROM billing_ledgerentry l
LEFT JOIN billing_quotausage q ON q.ledger_entry_id = l.id
LEFT JOIN plans_meteredservice m ON m.id = q.service_id
WHERE l.account_id IN ({ids}) AND l.created_at >= %s AND l.created_at < %s
GROUP BY 1, 2, 3, 4, 5, 6, 7
"""
DETAIL_SQL = """
SELECT l.account_id, l.kind, l.subject_type, l.subject_id, u.order_ref, u.line_id, u.component_id, u.kind,
  u.unit_price, COUNT(u.id), SUM(u.quantity), SUM(u.amount), MIN(u.period_start), MAX(u.period_end)
FROM usage_usagerecord u JOIN billing_ledgerentry l ON l.id = u.ledger_entry_id
WHERE l.account_id IN ({ids}) AND l.created_at >= %s AND l.created_at < %s
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
"""
STATEMENT_COLS = [
    "number",
    "year",
    "sequence",
    "account_id",
    "namespace",
    "currency",
    "period",
    "period_start",
    "period_end",
    "opening_balance",
    "total_recharges",
    "total_charges",
    "total_refunds",
    "total_adjustments",
    "closing_balance",
    "entry_count",
    "free_quota",
    "credit_notes",
    "issued_at",
    "issue_reason",
]
LINE_COLS = [
    "statement_id",
    "position",
    "kind",
    "group_type",
    "group_id",
    "description",
    "entry_count",
    "first_at",
    "last_at",
    "quantity",
    "unit_price",
    "amount",
    "details",
]


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n)


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def _baseline_chunk(cur: Any, lo: int, hi: int, period: Any, year: int) -> int:
    import json

    start, end = _naive(period.start), _naive(period.end)
    cur.execute(
        "SELECT a.id, a.namespace, a.currency FROM billing_account a WHERE a.id BETWEEN %s AND %s "
        "AND a.created_at < %s AND NOT EXISTS (SELECT 1 FROM b6_statement s WHERE s.account_id = a.id "
        "AND s.period = %s) ORDER BY a.id",
        (lo, hi, end, period.month),
    )
    accounts = cur.fetchall()
    if not accounts:
        return 0
    ids = [a[0] for a in accounts]
    marks = _marks(len(ids))
    cur.execute(GROUPS_SQL.format(ids=marks), (*ids, start, end))
    lines: dict[int, list[Any]] = {}
    last: dict[int, int] = {}
    for r in cur.fetchall():
        lines.setdefault(r[0], []).append(r)
        last[r[0]] = max(last.get(r[0], 0), r[12])
    closing = {}
    if last:
        cur.execute(
            f"SELECT account_id, balance_after FROM billing_ledgerentry WHERE id IN ({_marks(len(last))})",
            list(last.values()),
        )
        closing = dict(cur.fetchall())
    cur.execute(
        f"SELECT account_id, closing_balance FROM b6_statement WHERE period = %s AND account_id IN ({marks})",
        (period.previous().month, *ids),
    )
    opening = dict(cur.fetchall())
    rest = [i for i in ids if i not in opening]
    if rest:
        cur.execute(
            f"SELECT l.account_id, l.balance_after FROM billing_ledgerentry l JOIN (SELECT MAX(id) m FROM "
            f"billing_ledgerentry WHERE account_id IN ({_marks(len(rest))}) AND created_at < "
            "%s GROUP BY account_id) x "
            f"ON l.id = x.m",
            (*rest, start),
        )
        opening.update(cur.fetchall())
    cur.execute(
        "SELECT q.account_id, m.service, q.total, q.used FROM billing_monthlyquota q "
        "JOIN plans_meteredservice m "
        f"ON m.id = q.service_id WHERE q.account_id IN ({marks}) AND q.month = %s",
        (*ids, period.month),
    )
    quota: dict[int, list[Any]] = {}
    for account_id, service, total, used in cur.fetchall():
        quota.setdefault(account_id, []).append({"service": service, "total": total, "used": used})
    cur.execute(
        f"SELECT account_id, number FROM billing_creditnote WHERE account_id IN ({marks}) "
        "AND issued_at >= %s "
        f"AND issued_at < %s",
        (*ids, start, end),
    )
    cur.fetchall()
    cur.execute(DETAIL_SQL.format(ids=marks), (*ids, start, end))
    details: dict[tuple[Any, ...], list[Any]] = {}
    line_ids = set()
    for r in cur.fetchall():
        details.setdefault((r[0], r[1], r[2], r[3]), []).append(r)
        line_ids.add(r[5])
    if line_ids:
        cur.execute(
            f"SELECT sl.id, pi.prod_inst_id_ext, po.resource_name FROM orders_subscriptionline sl LEFT JOIN "
            "orders_productinstance pi ON pi.subscription_id = sl.subscription_id LEFT JOIN "
            "orders_purchaseorder po "
            f"ON po.subscription_id = sl.subscription_id WHERE sl.id IN ({_marks(len(line_ids))})",
            list(line_ids),
        )
        cur.fetchall()
    now = datetime.now(UTC).replace(tzinfo=None)
    rows, line_rows = [], []
    for account_id, namespace, currency in accounts:
        account_lines = sorted(lines.get(account_id, []), key=lambda r: (r[10], r[1], r[2], r[3]))
        open_ = D(opening.get(account_id, 0))
        totals = {
            k: sum((D(r[8]) for r in account_lines if r[1] == k), D(0))
            for k in ("recharge", "charge", "refund", "adjustment")
        }
        close = open_ + sum(totals.values(), D(0))
        if close != D(closing.get(account_id, open_)):
            raise AssertionError(f"baseline: account {account_id} closing {close} != ledger")
        rows.append([account_id, namespace, currency, open_, totals, close, account_lines])
    cur.execute("SELECT last FROM b6_counter WHERE kind = 'statement' AND year = %s FOR UPDATE", (year,))
    seq = int(cur.fetchone()[0])
    values = []
    for account_id, namespace, currency, open_, totals, close, account_lines in rows:
        seq += 1
        values.append(
            (
                f"TLY-{year}-{seq:06d}",
                year,
                seq,
                account_id,
                namespace,
                currency,
                period.month,
                _naive(period.start),
                _naive(period.end),
                open_,
                totals["recharge"],
                totals["charge"],
                totals["refund"],
                totals["adjustment"],
                close,
                sum(r[7] for r in account_lines),
                json.dumps(quota.get(account_id, [])),
                "[]",
                now,
                "",
            )
        )
    cur.executemany(
        f"INSERT INTO b6_statement ({', '.join(STATEMENT_COLS)}) VALUES ({_marks(len(STATEMENT_COLS))})",
        values,
    )
    cur.execute(
        f"SELECT account_id, id FROM b6_statement WHERE period = %s AND account_id IN ({marks})",
        (period.month, *ids),
    )
    statement_ids = dict(cur.fetchall())
    for account_id, _n, _c, _o, _t, _cl, account_lines in rows:
        for position, r in enumerate(account_lines, start=1):
            detail = [
                {
                    "order": d[4],
                    "component": d[6],
                    "usage_kind": d[7],
                    "unit_price": str(d[8]),
                    "records": d[9],
                    "quantity": str(d[10]),
                    "amount": str(d[11]),
                    "period_start": d[12].isoformat(),
                    "period_end": d[13].isoformat(),
                }
                for d in details.get((account_id, r[1], r[2], r[3]), [])
            ]
            line_rows.append(
                (
                    statement_ids[account_id],
                    position,
                    r[1],
                    r[2],
                    r[5] or r[3] or str(r[4]),
                    r[13] or r[2],
                    r[7],
                    r[10],
                    r[11],
                    r[9],
                    r[6],
                    r[8],
                    json.dumps(detail),
                )
            )
    cur.executemany(
        f"INSERT INTO b6_statementline ({', '.join(LINE_COLS)}) VALUES ({_marks(len(LINE_COLS))})", line_rows
    )
    cur.execute("UPDATE b6_counter SET last = %s WHERE kind = 'statement' AND year = %s", (seq, year))
    return len(values)


def _baseline_proc(period_label: str, q: Any) -> None:
    common.setup_django()
    from billing.statements.periods import parse_period

    period = parse_period(period_label)
    year = datetime.now(UTC).year
    conn = common.raw_connect()
    cur = conn.cursor()
    cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    issued = 0
    while True:
        cur.execute(
            "SELECT id, first_account_id, last_account_id FROM b6_batch WHERE period = %s "
            "AND state = 'pending' "
            "ORDER BY first_account_id LIMIT 1 FOR UPDATE SKIP LOCKED",
            (period.month,),
        )
        row = cur.fetchone()
        if row is None:
            conn.rollback()
            break
        issued += _baseline_chunk(cur, row[1], row[2], period, year)
        cur.execute("UPDATE b6_batch SET state = 'done' WHERE id = %s", (row[0],))
        conn.commit()
    conn.close()
    q.put((issued, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3))


def run_baseline(period: Any, account_ids: list[int]) -> tuple[float, int, float]:
    conn = common.raw_connect()
    cur = conn.cursor()
    for table, like in (
        ("b6_statement", "billing_statement"),
        ("b6_statementline", "billing_statementline"),
        ("b6_batch", "billing_statementbatch"),
        ("b6_counter", "billing_documentsequence"),
    ):
        cur.execute(f"CREATE TABLE IF NOT EXISTS {table} LIKE {like}")
    year = datetime.now(UTC).year
    cur.execute("INSERT IGNORE INTO b6_counter (kind, year, last) VALUES ('statement', %s, 0)", (year,))
    conn.commit()
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.perf_counter()
    lo, hi = min(account_ids), max(account_ids)
    cur.executemany(
        "INSERT IGNORE INTO b6_batch (period, first_account_id, last_account_id, state, "
        "issued) VALUES (%s, %s, %s, "
        "'pending', 0)",
        [(period.month, k * CHUNK, k * CHUNK + CHUNK - 1) for k in range(lo // CHUNK, hi // CHUNK + 1)],
    )
    conn.commit()
    conn.close()
    procs = [ctx.Process(target=_baseline_proc, args=(period.label, q)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    res = [q.get(timeout=3 * 3600) for _ in procs]
    for p in procs:
        p.join()
    return time.perf_counter() - t0, sum(r[0] for r in res), max(r[1] for r in res)


# --- checks and PDFs --------------------------------------------------------------------------


def checks(period: Any, account_ids: list[int]) -> tuple[bool, str]:
    conn = common.raw_connect()
    cur = conn.cursor()
    lo, hi = min(account_ids), max(account_ids)
    where = "s.period = %s AND s.account_id BETWEEN %s AND %s"
    args = (period.month, lo, hi)
    cur.execute(f"SELECT COUNT(*), COUNT(DISTINCT s.account_id) FROM billing_statement s WHERE {where}", args)
    count, distinct = cur.fetchone()
    cur.execute(
        "SELECT COUNT(*) FROM billing_statement s JOIN billing_account a ON a.id = "
        f"s.account_id WHERE {where} "
        "AND s.closing_balance <> a.balance",
        args,
    )
    wrong_balance = cur.fetchone()[0]
    cur.execute(
        "SELECT COUNT(*) FROM (SELECT s.id FROM billing_statement s JOIN "
        "billing_statementline l ON l.statement_id "
        f"= s.id WHERE {where} GROUP BY s.id, s.opening_balance, s.closing_balance "
        "HAVING s.opening_balance + SUM(l.amount) <> s.closing_balance) x",
        args,
    )
    wrong_sum = cur.fetchone()[0]
    cur.execute("SELECT year, sequence FROM billing_statement")
    by_year: dict[int, list[int]] = {}
    for year, seq in cur.fetchall():
        by_year.setdefault(year, []).append(seq)
    gaps = sum(1 for seqs in by_year.values() if sorted(seqs) != list(range(1, len(seqs) + 1)))
    totals = []
    for table, lines in (
        ("billing_statement", "billing_statementline"),
        ("b6_statement", "b6_statementline"),
    ):
        cur.execute(
            f"SELECT COUNT(DISTINCT s.id), SUM(l.amount), COUNT(l.id) FROM {table} s JOIN {lines} l ON "
            f"l.statement_id = s.id WHERE {where}",
            args,
        )
        totals.append(cur.fetchone())
    cur.execute(
        "SELECT COUNT(*) FROM billing_statementbatch WHERE period = %s AND state = 'pending'", (period.month,)
    )
    pending = cur.fetchone()[0]
    conn.close()
    n = len(account_ids)
    ok = (
        count == distinct == n
        and wrong_balance == 0
        and wrong_sum == 0
        and gaps == 0
        and totals[0] == totals[1]
        and pending == 0
    )
    note = (
        f"statements {count:,}/{n:,} (distinct {distinct:,}), closing != balance {wrong_balance}, "
        f"opening+lines != closing {wrong_sum}, numbering gaps {gaps}, pending slices {pending}, "
        f"lines {totals[0][2]:,} (baseline {totals[1][2]:,}), totals equal "
        f"{'yes' if totals[0] == totals[1] else 'NO'}"
    )
    return ok, note


def pdf_sample(period: Any, k: int) -> tuple[float, int, bool]:
    from billing.statements.models import DocumentPdf, Statement
    from billing.statements.render import documents_render

    numbers = list(
        Statement.objects.filter(period=period.month)
        .order_by("sequence")
        .values_list("number", flat=True)[:k]
    )
    t0 = time.perf_counter()
    documents_render(numbers=numbers)
    seconds = time.perf_counter() - t0
    ok = all(
        hashlib.sha256(bytes(d.content)).hexdigest() == d.sha256
        for d in DocumentPdf.objects.filter(number__in=numbers)
    ) and DocumentPdf.objects.filter(number__in=numbers).count() == len(numbers)
    return seconds, len(numbers), ok


def main() -> int:
    if not common.bootstrap("B6"):
        return 0
    n = size("B6")
    period = _period()
    prefix = f"b6x{random.randrange(10**6)}"
    t0 = time.perf_counter()
    account_ids = build(n, prefix, period)
    built = time.perf_counter() - t0
    entries = n * (ENTRIES_PER_ACCOUNT + 1)
    base_s, base_done, base_rss = run_baseline(period, account_ids)
    proj_s, proj_done, proj_rss = run_project(period)
    ok, note = checks(period, account_ids)
    ok = ok and base_done == n and proj_done == n
    rate, base_rate = n / proj_s, n / base_s
    ratio = rate / base_rate
    emit(
        Result(
            "B6",
            "statements (data part)",
            f"{n:,} accounts, {n * ENTRIES_PER_ACCOUNT:,} ledger entries in {period} (+{n:,} before it)",
            f"{fmt_rate(rate, 'stmt')} ({proj_s:.1f} s)",
            f"{fmt_rate(base_rate, 'stmt')} ({base_s:.1f} s)",
            f"{ratio:.2f}x",
            peak_memory=f"{proj_rss:.0f} MB per worker (baseline {base_rss:.0f} MB)",
            target=">= 0.5x baseline rate; memory flat in N",
            verdict=("MET" if ratio >= 0.5 else "MISSED") if ok else "FAILED",
            notes=f"{WORKERS} worker processes, slices of {CHUNK} accounts (SKIP LOCKED); data built in "
            f"{built:.0f} s ({entries:,} entries); {note}",
            numbers={"n": n, "rate": rate, "base_rate": base_rate, "ratio": ratio, "worker_rss_mb": proj_rss},
            checks_ok=ok,
        )
    )
    k = min(n, PDF_SAMPLE.get(common.SCALE, 10))
    seconds, rendered, pdf_ok = pdf_sample(period, k)
    per = seconds / max(rendered, 1)
    emit(
        Result(
            "B6",
            "statement PDFs (measured separately)",
            f"{rendered} of the {n:,} statements",
            f"{fmt_rate(rendered / seconds, 'pdf')} ({per * 1000:.0f} ms per PDF, one process)",
            "-",
            "-",
            target="off the critical path (a task per chunk); no target",
            verdict="n/a" if pdf_ok else "FAILED",
            notes=f"all {n:,} would take ~{n * per / WORKERS / 60:.1f} min on {WORKERS} workers; "
            f"stored with SHA-256: {'yes' if pdf_ok else 'NO'}",
            numbers={"rendered": rendered, "seconds": seconds},
            checks_ok=pdf_ok,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
