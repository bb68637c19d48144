"""Fast data builders for the benchmarks: multi-row INSERTs through the raw driver.

Building a million rows through the ORM would take longer than the benchmark itself; the rows are
the same ones the project's code writes (same tables, same constraints), only inserted in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bench.common import raw_connect

BATCH = 5_000


def insert_many(conn: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """INSERT rows in batches of ``BATCH`` (MySQLdb turns executemany into multi-row INSERTs)."""
    cols = ", ".join(f"`{c}`" for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    sql = f"INSERT INTO `{table}` ({cols}) VALUES ({marks})"
    cur = conn.cursor()
    batch: list[Sequence[Any]] = []
    total = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            cur.executemany(sql, batch)
            conn.commit()
            total += len(batch)
            batch = []
    if batch:
        cur.executemany(sql, batch)
        conn.commit()
        total += len(batch)
    return total


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def make_accounts(
    prefix: str, n: int, *, balance: Decimal = Decimal("0"), currency: str = "CNY"
) -> dict[str, int]:
    """``n`` accounts ``<prefix>-<i>`` with ``balance`` and ONE matching recharge ledger entry each
    (so balance == ledger sum holds from the start). Returns namespace -> id."""
    conn = raw_connect()
    try:
        ts = now_utc()
        names = [f"{prefix}-{i}" for i in range(n)]
        insert_many(
            conn,
            "billing_account",
            # ledger_entry_count (B7's kept count): the one recharge entry below, if any
            ["namespace", "currency", "balance", "ledger_entry_count", "created_at", "updated_at"],
            ((ns, currency, balance, 1 if balance else 0, ts, ts) for ns in names),
        )
        cur = conn.cursor()
        cur.execute("SELECT namespace, id FROM billing_account WHERE namespace LIKE %s", (prefix + "-%",))
        ids = {ns: int(pk) for ns, pk in cur.fetchall()}
        if balance:
            insert_many(
                conn,
                "billing_ledgerentry",
                [
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
                (
                    (ids[ns], balance, balance, "recharge", "bench", ns, "bench seed", f"seed:{ns}", ts)
                    for ns in names
                ),
            )
        return ids
    finally:
        conn.close()


def ledger_mismatches(account_ids: Sequence[int]) -> list[tuple[int, Decimal, Decimal]]:
    """Accounts whose balance differs from the sum of their ledger (should be none)."""
    conn = raw_connect()
    try:
        cur = conn.cursor()
        out: list[tuple[int, Decimal, Decimal]] = []
        ids = list(account_ids)
        for i in range(0, len(ids), 5_000):
            part = ids[i : i + 5_000]
            marks = ", ".join(["%s"] * len(part))
            cur.execute(
                f"SELECT a.id, a.balance, COALESCE(SUM(l.amount), 0) FROM billing_account a "
                f"LEFT JOIN billing_ledgerentry l ON l.account_id = a.id WHERE a.id IN ({marks}) "
                f"GROUP BY a.id, a.balance HAVING a.balance <> COALESCE(SUM(l.amount), 0)",
                part,
            )
            out.extend((int(r[0]), Decimal(r[1]), Decimal(r[2])) for r in cur.fetchall())
        return out
    finally:
        conn.rollback()
        conn.close()


def derived_mismatches(account_ids: Sequence[int]) -> list[str]:
    """What the rows derived from the ledger and the records disagree on, for ``account_ids``:
    ``ledger_entry_count`` against the entries, and the day and month rollups' amounts and counts
    against the records (per account and grain). Empty when every derived row is right."""
    conn = raw_connect()
    out: list[str] = []
    try:
        cur = conn.cursor()
        ids = list(account_ids)
        for i in range(0, len(ids), 5_000):
            part = ids[i : i + 5_000]
            marks = ", ".join(["%s"] * len(part))
            cur.execute(
                f"SELECT a.id, a.ledger_entry_count, COUNT(l.id) FROM billing_account a "  # noqa: S608
                f"LEFT JOIN billing_ledgerentry l ON l.account_id = a.id WHERE a.id IN ({marks}) "
                f"GROUP BY a.id, a.ledger_entry_count HAVING a.ledger_entry_count <> COUNT(l.id)",
                part,
            )
            out += [f"account {r[0]}: ledger_entry_count {r[1]}, entries {r[2]}" for r in cur.fetchall()]
            cur.execute(
                f"SELECT account_id, ROUND(SUM(amount) * 10000), COUNT(*) FROM usage_usagerecord "  # noqa: S608
                f"WHERE account_id IN ({marks}) GROUP BY account_id",
                part,
            )
            records = {int(r[0]): (int(r[1]), int(r[2])) for r in cur.fetchall()}
            cur.execute(
                f"SELECT account_id, grain, SUM(amount_units), SUM(records) FROM usage_usagerollup "  # noqa: S608
                f"WHERE account_id IN ({marks}) GROUP BY account_id, grain",
                part,
            )
            rolled: dict[tuple[int, str], tuple[int, int]] = {
                (int(r[0]), str(r[1])): (int(r[2]), int(r[3])) for r in cur.fetchall()
            }
            for account_id, want in records.items():
                for grain in ("d", "m"):
                    got = rolled.get((account_id, grain), (0, 0))
                    if got != want:
                        out.append(f"account {account_id} rollups {grain}: {got}, records {want}")
        return out
    finally:
        conn.rollback()
        conn.close()
