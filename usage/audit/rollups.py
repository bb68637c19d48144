"""The ledger audit's check of the usage rollups (issue 21 B3): per account and status, the day
rollups and the month rollups each add up to the records (their amounts, their discounts and their
count), so a
writer that forgot ``usage.rollups`` (or a raw write) is found: ``rollup_mismatch``, repaired by
``manage.py rebuild_rollups``.

Two grouped statements (the records by account and status, the rollups by account, status and
grain); a difference is read again, both sides in one transaction (one snapshot on MariaDB), before
it is reported (REPEATABLE READ for that transaction on MariaDB): a write committing between the
two statements is not drift.
"""

from __future__ import annotations

from django.db import connection, transaction

from usage.audit.sql import Finding, as_units, fetch_rows, new_finding, quoted, table_of, units_sql
from usage.models import RollupGrain, UsageRecord, UsageRollup

Key = tuple[int, str, str]  # (account, status, grain)
Sums = tuple[int, int, int]  # (amount units, discount units, records)
Totals = dict[Key, Sums]
Differences = dict[Key, tuple[Sums, Sums]]  # -> (rollups, records)
NONE: Sums = (0, 0, 0)


def _differences(account_ids: list[int] | None) -> Differences:
    record, rollup = table_of(UsageRecord), table_of(UsageRollup)
    acc, status = quoted("account_id"), quoted("status")
    where, params = "", []
    if account_ids is not None:
        where = f" WHERE {acc} IN ({', '.join(['%s'] * len(account_ids))})"
        params = list(account_ids)
    out: Totals = {}
    amounts = f"SUM({units_sql(quoted('amount'))}), SUM({units_sql(quoted('discount'))})"
    for a, s, total, discount, n in fetch_rows(
        f"SELECT {acc}, {status}, {amounts}, COUNT(*) FROM {record}{where} GROUP BY {acc}, {status}",  # noqa: S608
        params,
    ):
        for grain in RollupGrain:
            out[(a, s, str(grain))] = (as_units(total), as_units(discount), int(n))
    found: Totals = {}
    sums = ", ".join(f"SUM({quoted(c)})" for c in ("amount_units", "discount_units", "records"))
    for a, s, grain, total, discount, n in fetch_rows(
        f"SELECT {acc}, {status}, {quoted('grain')}, {sums} "  # noqa: S608
        f"FROM {rollup}{where} GROUP BY {acc}, {status}, {quoted('grain')}",
        params,
    ):
        found[(a, s, grain)] = (int(total or 0), int(discount or 0), int(n or 0))
    return {
        key: (found.get(key, NONE), out.get(key, NONE))
        for key in set(out) | set(found)
        if found.get(key, NONE) != out.get(key, NONE)
    }


def rollups_vs_records(*, account_id: int | None) -> list[Finding]:
    differing = _differences(None if account_id is None else [account_id])
    if differing:
        accounts = sorted({a for a, _, _ in differing})
        if connection.vendor == "mysql" and not connection.in_atomic_block:
            # the project runs READ COMMITTED; this one transaction reads one snapshot
            fetch_rows("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        with transaction.atomic():
            differing = _differences(accounts)
    findings = []
    for (acc, status, grain), (found, wanted) in sorted(differing.items()):
        label = "day" if grain == RollupGrain.DAY else "month"
        findings.append(
            new_finding(
                account_id=acc,
                check="rollup_mismatch",
                object_type="account",
                object_id=str(acc),
                expected=f"{wanted[2]} record(s), {wanted[0]} units, discount {wanted[1]} units",
                actual=f"{found[2]} record(s), {found[0]} units, discount {found[1]} units",
                detail=f"{status} records vs the {label} rollups (manage.py rebuild_rollups repairs)",
            )
        )
    return findings
