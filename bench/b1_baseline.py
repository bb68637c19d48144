"""B1's baseline: the renewal writes as the strongest hand-written SQL we could write (issue 21.1).

Same work and locking as the project (``orders.purchase.renewal``): two processes take chunks of
``CHUNK`` due lines, lock the chunk's accounts (``FOR UPDATE SKIP LOCKED``, accounts first), then
its lines by primary key (``SKIP LOCKED``), charge one period per line and commit the chunk. Every
write of a chunk is ONE set-based statement:

1. ``SELECT`` the candidate lines with their subscription and order (one join);
2. ``SELECT ... FOR UPDATE SKIP LOCKED`` the accounts;
3. ``SELECT ... FOR UPDATE SKIP LOCKED`` the lines;
4. one multi-row ``INSERT`` of ledger entries (consecutive ids: ``innodb_autoinc_lock_mode`` 1/2
   hands a multi-row INSERT one block);
5. one multi-row ``INSERT`` of usage records pointing at those entries;
6. one ``UPDATE billing_account SET balance = CASE id WHEN .. THEN .. END, ledger_entry_count =
   CASE .. WHERE id IN (..)`` (the entry counter the lists read, issue 21.4);
7. one ``CASE`` ``UPDATE`` of the lines (``paid_until``, ``next_run_at``, ``periods_billed``);
8. one ``CASE`` ``UPDATE`` of the orders' deadlines;
9. one multi-row ``INSERT`` of order events;
10. one multi-row ``INSERT ... ON DUPLICATE KEY UPDATE`` of the usage rollups (day and month
    buckets of the records, issue 21.3), the rows ``usage.rollups`` keeps for the project;
11. ``COMMIT`` (the connection runs with autocommit off: no ``SET autocommit`` round trips).

``STATEMENTS_PER_CHUNK`` is that count (11 round trips). The first version wrote the UPDATEs with
``executemany`` (one statement per row: 3 x 200 UPDATEs per chunk), which made the project look
close to the limit when it was the baseline that was slow; until 2026-12-02 it also left out the
entry counter and the rollups the project writes (``bench.data.derived_mismatches`` now checks
both sides' counters and rollups against their ledger and records).
"""

from __future__ import annotations

import calendar
import resource
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bench import common

CHUNK = 100  # lines per chunk: the project's chunk_size in this benchmark
STATEMENTS_PER_CHUNK = 11  # 10 statements + COMMIT (module docstring)
ROLLUP_COLUMNS = (
    "grain, day, account_id, source, order_ref, region, plan_key, kind, status, amount_units, records"
)


def _marks(n: int, width: int) -> str:
    row = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([row] * n)


def _case_update(
    cur: Any, table: str, rows: list[tuple[Any, ...]], columns: list[str], now: datetime
) -> None:
    """One ``UPDATE table SET c = CASE id WHEN .. THEN .. END, .. , updated_at = now WHERE id IN (..)``;
    ``rows`` are ``(id, value per column...)``."""
    whens = " ".join(["WHEN %s THEN %s"] * len(rows))
    sets = ", ".join(f"{col} = CASE id {whens} END" for col in columns)
    params: list[Any] = []
    for k in range(len(columns)):
        for r in rows:
            params += [r[0], r[1 + k]]
    marks = ", ".join(["%s"] * len(rows))
    cur.execute(
        f"UPDATE {table} SET {sets}, updated_at = %s WHERE id IN ({marks})",  # noqa: S608 - our names
        [*params, now, *(r[0] for r in rows)],
    )


def add_month(dt: datetime) -> datetime:
    y, m = (dt.year + dt.month // 12, dt.month % 12 + 1)
    return dt.replace(year=y, month=m, day=min(dt.day, calendar.monthrange(y, m)[1]))


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def baseline_proc(line_lo: int, line_hi: int, price: Decimal, time_zone: str, q: Any) -> None:
    """One baseline worker: chunks until none of ``line_lo..line_hi`` is due; puts
    ``(renewed, chunks committed, statements of the committed chunks, statements of attempts that
    found their rows locked by the other worker, peak RSS MB)`` on ``q``."""
    tz = ZoneInfo(time_zone)  # TALLY_TIME_ZONE: the rollups' local day (no Django in this process)
    conn = common.raw_connect()
    cur = conn.cursor()
    cur.execute(
        "SELECT v.id FROM plans_priceversion v JOIN plans_plan p ON p.id = v.plan_id WHERE p.plan_id = 'bench-vol'"  # noqa: E501
    )
    price_version = int(cur.fetchone()[0])
    conn.rollback()
    done = chunks = statements = wasted = 0
    while True:
        cur.execute(
            "SELECT l.id, l.paid_until, s.account_id, s.order_ref, o.id, o.plan_id, o.region "
            "FROM orders_subscriptionline l JOIN orders_subscription s ON s.id = l.subscription_id "
            "JOIN orders_purchaseorder o ON o.subscription_id = s.id "
            "WHERE l.id BETWEEN %s AND %s AND l.periods_billed < 2 ORDER BY l.id LIMIT %s",
            (line_lo, line_hi, CHUNK),
        )
        statements += 1
        cands = cur.fetchall()
        attempt = statements - 1  # statements before this attempt
        if not cands:  # the last read found nothing due: not part of a chunk
            conn.rollback()
            wasted, statements = wasted + 1, attempt
            break
        accounts = sorted({r[2] for r in cands})
        cur.execute(
            f"SELECT id, balance, ledger_entry_count FROM billing_account WHERE id IN ({', '.join(['%s'] * len(accounts))}) "  # noqa: S608, E501
            "ORDER BY id FOR UPDATE SKIP LOCKED",
            accounts,
        )
        statements += 1
        found = cur.fetchall()
        bal = {int(r[0]): Decimal(r[1]) for r in found}
        entry_count = {int(r[0]): int(r[2]) for r in found}
        mine = [r for r in cands if r[2] in bal]
        if not mine:
            conn.rollback()
            statements += 1
            wasted, statements = wasted + statements - attempt, attempt
            time.sleep(0.01)
            continue
        ids = [r[0] for r in mine]
        cur.execute(
            f"SELECT id FROM orders_subscriptionline WHERE id IN ({', '.join(['%s'] * len(ids))}) "  # noqa: S608
            "AND periods_billed < 2 ORDER BY id FOR UPDATE SKIP LOCKED",
            ids,
        )
        statements += 1
        locked = {int(r[0]) for r in cur.fetchall()}
        mine = [r for r in mine if r[0] in locked]
        if not mine:
            conn.rollback()
            statements += 1
            wasted, statements = wasted + statements - attempt, attempt
            continue
        moment = datetime.now(UTC)
        now = moment.replace(tzinfo=None)
        day = moment.astimezone(tz).date()  # the records' local day: their rollup buckets
        ledger: list[Any] = []
        usage: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        orders: list[tuple[Any, ...]] = []
        events: list[Any] = []
        touched: dict[int, tuple[Decimal, int]] = {}
        rollups: list[Any] = []
        for line_id, paid_until, account_id, order_ref, order_pk, plan_id, region in mine:
            start, end = paid_until, add_month(paid_until)
            bal[account_id] -= price
            entry_count[account_id] += 1
            touched[account_id] = (bal[account_id], entry_count[account_id])
            key = f"line:{line_id}:p:{start:%Y%m%dT%H%M%S}"
            ledger += [
                account_id,
                -price,
                bal[account_id],
                "charge",
                "purchase_order",
                order_ref,
                "",
                key,
                now,
            ]
            usage.append(
                (account_id, "purchase", order_ref, line_id, f"p:{start:%Y%m%dT%H%M%S}", region, plan_id,
                 start, end, Decimal(1), price, price, "renew", "paid", now, now)
            )  # fmt: skip
            lines.append((line_id, end, end - timedelta(days=7), 2))
            orders.append((order_pk, end))
            for grain, bucket_day in (("d", day), ("m", day.replace(day=1))):  # one order_ref: one bucket
                rollups += [grain, bucket_day, account_id, "purchase", order_ref, region or "", plan_id,
                            "renew", "paid", int(price * 10000), 1]  # fmt: skip
            events += [order_pk, now, 5, 5, "renewed", '{"charged": true}']
        n = len(mine)
        cur.execute(
            "INSERT INTO billing_ledgerentry (account_id, amount, balance_after, kind, subject_type, "  # noqa: S608
            f"subject_id, memo, idempotency_key, created_at) VALUES {_marks(n, 9)}",
            ledger,
        )
        first_entry = int(cur.lastrowid)  # the first id of the multi-row INSERT's block
        params: list[Any] = []
        for i, r in enumerate(usage):
            params += [*r, first_entry + i, price_version, ""]
        cur.execute(
            "INSERT INTO usage_usagerecord (account_id, source, order_ref, line_id, period_key, region, "  # noqa: S608
            "plan_id, period_start, period_end, quantity, unit_price, amount, kind, status, created_at, "
            f"paid_at, ledger_entry_id, price_version_id, component_id) VALUES {_marks(n, 19)}",
            params,
        )
        _case_update(
            cur,
            "billing_account",
            [(account_id, *values) for account_id, values in sorted(touched.items())],
            ["balance", "ledger_entry_count"],
            now,
        )
        _case_update(
            cur, "orders_subscriptionline", lines, ["paid_until", "next_run_at", "periods_billed"], now
        )
        _case_update(cur, "orders_purchaseorder", orders, ["deadline"], now)
        cur.execute(
            "INSERT INTO orders_purchaseorderevent (order_id, time, from_status, to_status, reason, data) "  # noqa: S608
            f"VALUES {_marks(n, 6)}",
            events,
        )
        cur.execute(
            f"INSERT INTO usage_usagerollup ({ROLLUP_COLUMNS}) VALUES {_marks(2 * n, 11)} "  # noqa: S608
            "ON DUPLICATE KEY UPDATE amount_units = amount_units + VALUES(amount_units), "
            "records = records + VALUES(records)",
            rollups,
        )
        conn.commit()
        statements += 7 + 1
        done += n
        chunks += 1
    conn.close()
    q.put((done, chunks, statements, wasted, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3))
