"""The ledger audit's check of the usage rollups (issue 21 B3): per account and status, the day
rollups and the month rollups each add up to the records (their amounts, their discounts and their
count), so a writer that forgot ``usage.rollups`` (or a raw write) is found: ``rollup_mismatch``,
repaired by ``manage.py rebuild_rollups``.

One statement compares the two groupings in the database and returns only the groups that differ,
so the check's memory follows the differences, not the accounts (two groupings read into Python
took ~100 MB at 50,000 accounts, docs/benchmarks.md B9). A difference is read again, both sides in
one transaction (one snapshot on MariaDB), before it is reported (REPEATABLE READ for that
transaction on MariaDB): a write committing between the two sides is not drift.
"""

from __future__ import annotations

from django.db import connection, transaction

from usage.audit.sql import Finding, fetch_rows, new_finding, quoted, table_of
from usage.models import RollupGrain, UsageRecord, UsageRollup

Key = tuple[int, str, str]  # (account, status, grain)
Sums = tuple[int, int, int]  # (amount units, discount units, records)
Differences = dict[Key, tuple[Sums, Sums]]  # -> (rollups, records)


def _units_sum(column: str) -> str:
    """The exact sum of a DECIMAL(20, 4) column in integer units of 1/10000: on MariaDB the DECIMAL
    sum scaled (exact, no CAST per row), on SQLite rounded per row first (it sums decimals as
    floats)."""
    if connection.vendor == "mysql":
        return f"CAST(SUM({column}) * 10000 AS SIGNED)"
    return f"SUM(CAST(ROUND({column} * 10000) AS INTEGER))"


def _differences_sql(where: str) -> str:
    record, rollup = table_of(UsageRecord), table_of(UsageRollup)
    acc, status, grain = quoted("account_id"), quoted("status"), quoted("grain")
    units, discount, records = (quoted(c) for c in ("amount_units", "discount_units", "records"))
    grains = " UNION ALL ".join(f"SELECT '{g.value}' AS g" for g in RollupGrain)
    differ = "u.t <> r.t OR u.d <> r.d OR u.n <> r.n"
    return (
        f"WITH r AS (SELECT {acc} AS a, {status} AS s, {_units_sum(quoted('amount'))} AS t, "  # noqa: S608
        f"{_units_sum(quoted('discount'))} AS d, COUNT(*) AS n "
        f"FROM {record}{where} GROUP BY {acc}, {status}), "
        f"u AS (SELECT {acc} AS a, {status} AS s, {grain} AS g, COALESCE(SUM({units}), 0) AS t, "
        f"COALESCE(SUM({discount}), 0) AS d, COALESCE(SUM({records}), 0) AS n "
        f"FROM {rollup}{where} GROUP BY {acc}, {status}, {grain}), "
        f"grains AS ({grains}) "
        "SELECT r.a, r.s, grains.g, COALESCE(u.t, 0), COALESCE(u.d, 0), COALESCE(u.n, 0), r.t, r.d, r.n "
        "FROM r CROSS JOIN grains LEFT JOIN u ON u.a = r.a AND u.s = r.s AND u.g = grains.g "
        f"WHERE u.a IS NULL OR {differ} "
        "UNION ALL "
        "SELECT u.a, u.s, u.g, u.t, u.d, u.n, 0, 0, 0 FROM u "
        "WHERE (u.t <> 0 OR u.d <> 0 OR u.n <> 0) "
        f"AND NOT EXISTS (SELECT 1 FROM {record} x WHERE x.{acc} = u.a AND x.{status} = u.s)"
    )


def _differences(account_ids: list[int] | None) -> Differences:
    where, params = "", []
    if account_ids is not None:
        where = f" WHERE {quoted('account_id')} IN ({', '.join(['%s'] * len(account_ids))})"
        params = list(account_ids) * 2  # the records' and the rollups' WHERE
    return {
        (int(a), str(s), str(g)): ((int(ut), int(ud), int(un)), (int(rt), int(rd), int(rn)))
        for a, s, g, ut, ud, un, rt, rd, rn in fetch_rows(_differences_sql(where), params)
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
