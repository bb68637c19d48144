"""B9: the ledger audit over N ledger entries (docs/benchmarks.md: ``audit_ledger`` over 1,000,000 entries
in <= 10 s).

Data (consistent books, inserted in bulk through the raw driver): N / 20 accounts, each with one
``success`` recharge order and its credit entry, then charges of 0.5000 each paid for one usage
record apiece (hourly periods of one line per account), balances equal to the ledger. The project
path is ``usage.audit.audit_run_record`` (what ``manage.py audit_ledger`` runs: every check, and
the run recorded). There is no baseline (none is defined): the figure is the time. Checks:
no finding on this benchmark's accounts; then one corrupted balance is found, exactly.
"""

from __future__ import annotations

import random
import sys
from datetime import timedelta
from decimal import Decimal
from typing import Any

from bench import common
from bench.common import Result, emit, fmt_rate, measured, size

ENTRIES_PER_ACCOUNT = 20
CREDIT = Decimal("10000.0000")
CHARGE = Decimal("0.5000")


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def build(n: int, prefix: str) -> list[int]:
    """About ``n`` ledger entries; returns the account ids."""
    from bench.data import insert_many, make_accounts, now_utc, raw_connect

    accounts = max(1, n // ENTRIES_PER_ACCOUNT)
    charges = ENTRIES_PER_ACCOUNT - 1
    final = CREDIT - charges * CHARGE
    ids = make_accounts(prefix, accounts, balance=Decimal(0))
    account_ids = [ids[f"{prefix}-{i}"] for i in range(accounts)]
    ts = now_utc()
    conn = raw_connect()
    try:
        cur = conn.cursor()
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM billing_ledgerentry")
        next_entry = int(cur.fetchone()[0]) + 1
        cur.execute("SELECT COALESCE(MAX(line_id), 0) FROM usage_usagerecord")
        line_base = int(cur.fetchone()[0]) + 1
        first_entry = next_entry

        def entries() -> Any:
            eid = first_entry
            for i, acc in enumerate(account_ids):
                yield (
                    eid,
                    acc,
                    CREDIT,
                    CREDIT,
                    "recharge",
                    "recharge",
                    f"R{prefix}{i}",
                    "",
                    f"recharge:{i}",
                    ts,
                )
                eid += 1
                balance = CREDIT
                for k in range(charges):
                    balance -= CHARGE
                    yield (
                        eid,
                        acc,
                        -CHARGE,
                        balance,
                        "charge",
                        "purchase_order",
                        f"{prefix}-o{i}",
                        "",
                        f"c:{k}",
                        ts,
                    )
                    eid += 1

        entry_cols = ["id", "account_id", "amount", "balance_after", "kind", "subject_type", "subject_id"]
        entry_cols += ["memo", "idempotency_key", "created_at"]
        insert_many(conn, "billing_ledgerentry", entry_cols, entries())

        start = ts.replace(minute=0, second=0, microsecond=0)

        def records() -> Any:
            for i, acc in enumerate(account_ids):
                credit_id = first_entry + i * ENTRIES_PER_ACCOUNT
                for k in range(charges):
                    begin = start + timedelta(hours=k)
                    yield (
                        acc, "purchase", f"{prefix}-o{i}", line_base + i, f"p:{k}", "cn-north-1", "",
                        begin, begin + timedelta(hours=1), Decimal(1), CHARGE, CHARGE, "hourly", "paid",
                        credit_id + 1 + k, ts, ts,
                    )  # fmt: skip

        record_cols = ["account_id", "source", "order_ref", "line_id", "period_key", "region", "component_id"]
        record_cols += ["period_start", "period_end", "quantity", "unit_price", "amount", "kind", "status"]
        record_cols += ["ledger_entry_id", "created_at", "paid_at"]
        insert_many(conn, "usage_usagerecord", record_cols, records())
        insert_many(
            conn,
            "billing_rechargeorder",
            ["public_id", "account_id", "amount", "currency", "payment_method", "payment_id", "status"]
            + ["pay_url", "pay_token_hash", "review_reason", "ledger_entry_id", "created_at", "updated_at"]
            + ["finished_at"],
            (
                (
                    f"R{prefix}{i}",
                    acc,
                    CREDIT,
                    "CNY",
                    "sandbox",
                    "",
                    "success",
                    "",
                    "",  # pay_token_hash: none (the recharge is paid)
                    "",
                    first_entry + i * ENTRIES_PER_ACCOUNT,
                    ts,
                    ts,
                    ts,
                )
                for i, acc in enumerate(account_ids)
            ),  # fmt: skip
        )
        marks = ", ".join(["%s"] * len(account_ids))
        cur.execute(f"UPDATE billing_account SET balance = %s WHERE id IN ({marks})", [final, *account_ids])  # noqa: S608
        conn.commit()
        for table in ("billing_ledgerentry", "usage_usagerecord", "billing_rechargeorder", "billing_account"):
            cur.execute(f"ANALYZE TABLE {table}")
            cur.fetchall()
    finally:
        conn.close()
    return account_ids


def main() -> int:
    if not common.bootstrap("B9"):
        return 0
    from billing.models import Account, LedgerEntry
    from usage.audit import audit_run_record, ledger_audit

    n = size("B9")
    account_ids = build(n, f"b9x{random.randrange(10**6)}")
    # the entries and records were written by plain SQL, past the posting's and the rollups' hooks:
    # derive the entry counts and the rollups as the repairs do, or the audit (which checks both)
    # reports every account built
    from billing.ledger_write import ledger_entry_counts_rebuild
    from usage.rollups import rebuild

    ledger_entry_counts_rebuild(account_ids=account_ids)
    rebuild()
    mine = set(account_ids)
    entries = LedgerEntry.objects.count()
    ledger_audit()  # warm the server's buffer pool once, as a nightly run on a live server would find it
    with measured() as m:
        run, findings = audit_run_record(source="bench")
    ours = [f for f in findings if f.account_id in mine]
    victim = account_ids[len(account_ids) // 2]
    Account.objects.filter(pk=victim).update(balance=Decimal("1"))
    drift = [f for f in ledger_audit() if f.account_id in mine]
    checks_ok = not ours and [(f.check, f.account_id) for f in drift] == [("balance_mismatch", victim)]
    emit(
        Result(
            "B9",
            "ledger audit",
            f"{entries:,} ledger entries ({len(account_ids):,} accounts of this run)",
            f"{fmt_rate(entries / m.seconds, 'entry')} ({m.seconds:.2f} s)",
            "-",
            "-",
            peak_memory=f"+{m.delta_rss_mb:.1f} MB over {m.peak_rss_mb - m.delta_rss_mb:.0f} MB RSS",
            target="<= 10 s at 1,000,000 entries",
            verdict=("MET" if m.seconds <= 10 else "MISSED") if entries >= 1_000_000 else "n/a",
            notes=f"run {run.pk}: {run.findings} finding(s) in the whole database, {len(ours)} on ours; "
            f"corrupted balance found: {bool(drift)}",
            numbers={"entries": entries, "seconds": m.seconds, "findings": run.findings},
            checks_ok=checks_ok,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
