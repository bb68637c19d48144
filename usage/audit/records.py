"""The ledger audit's checks of usage records: paid records against their ledger entries, and
billed periods that overlap (``usage.audit.checks`` runs them)."""

from __future__ import annotations

from billing.models import LedgerEntry
from usage.audit.sql import (
    Finding,
    as_units,
    fetch_rows,
    new_finding,
    quoted,
    table_of,
    units_money,
    units_sql,
)
from usage.models import UsageKind, UsageRecord, UsageStatus

BILLED_KINDS = (UsageKind.NEW, UsageKind.RENEW, UsageKind.HOURLY, UsageKind.USAGE)
RECORDS_CHUNK = 200_000  # usage record ids per statement of the records check


# --- usage records against their ledger entries ------------------------------------------------------


def records_vs_entries(*, account_id: int | None) -> list[Finding]:
    """One pass over the paid records (primary-key ranges of the clustered index: sequential
    reads), each record joined to its entry by primary key. A record that pays its entry alone
    matches it exactly (``record + entry == 0``, same account); what does not is either a paid
    record without an entry (reported as it is read) or a candidate entry, re-summed over all its
    paid records through the records' ``ledger_entry`` index (entries paying several records,
    e.g. arrears settled at once, and real mismatches). No statement groups the whole table."""
    record, entry = table_of(UsageRecord), table_of(LedgerEntry)
    r_units, e_units = units_sql("r." + quoted("amount")), units_sql("e." + quoted("amount"))
    select = (
        f"SELECT r.{quoted('id')}, r.{quoted('account_id')}, r.{quoted('amount')}, r.{quoted('kind')}, "  # noqa: S608
        f"r.{quoted('ledger_entry_id')} FROM {record} r "
        f"LEFT JOIN {entry} e ON e.{quoted('id')} = r.{quoted('ledger_entry_id')} "
        f"WHERE r.{quoted('status')} = %s AND "
        f"((r.{quoted('ledger_entry_id')} IS NULL AND r.{quoted('amount')} <> 0) OR "
        f"(r.{quoted('ledger_entry_id')} IS NOT NULL AND ({r_units} + {e_units} <> 0 "
        f"OR r.{quoted('account_id')} <> e.{quoted('account_id')}))) AND "
    )
    if account_id is not None:
        parts = [(f"r.{quoted('account_id')} = %s", [UsageStatus.PAID, account_id])]
    else:
        bounds = fetch_rows(f"SELECT MIN({quoted('id')}), MAX({quoted('id')}) FROM {record}")[0]  # noqa: S608
        low, high = (int(bounds[0]), int(bounds[1])) if bounds[0] is not None else (1, 0)
        parts = [
            (
                f"r.{quoted('id')} >= %s AND r.{quoted('id')} < %s",
                [UsageStatus.PAID, start, start + RECORDS_CHUNK],
            )
            for start in range(low, high + 1, RECORDS_CHUNK)
        ]
    findings: list[Finding] = []
    checked: set[int] = set()
    for where, params in parts:
        candidates: set[int] = set()
        for pk, acc, amount, kind, entry_id in fetch_rows(select + where, params):
            if entry_id is None:
                findings.append(
                    new_finding(
                        account_id=acc,
                        check="paid_record_without_entry",
                        object_type="usage_record",
                        object_id=str(pk),
                        expected="a ledger entry",
                        actual="none",
                        detail=f"{kind} {amount}",
                    )
                )
            elif entry_id not in checked:
                candidates.add(int(entry_id))
        checked |= candidates
        findings += _entries_summed(sorted(candidates))
    return sorted(findings, key=lambda f: (f.check, int(f.object_id)))


def _entries_summed(entry_ids: list[int]) -> list[Finding]:
    """The candidate entries whose paid records (all of them, any account) do not add up to the
    entry or belong to another account."""
    record, entry = table_of(UsageRecord), table_of(LedgerEntry)
    findings: list[Finding] = []
    for i in range(0, len(entry_ids), 1000):
        ids = entry_ids[i : i + 1000]
        marks = ", ".join(["%s"] * len(ids))
        grouped = (
            f"SELECT {quoted('ledger_entry_id')} AS eid, SUM({units_sql(quoted('amount'))}) AS units, "  # noqa: S608
            f"MIN({quoted('account_id')}) AS low, MAX({quoted('account_id')}) AS high, COUNT(*) AS n "
            f"FROM {record} WHERE {quoted('status')} = %s AND {quoted('ledger_entry_id')} IN ({marks}) "
            f"GROUP BY {quoted('ledger_entry_id')}"
        )
        sql = (
            f"SELECT g.eid, e.{quoted('account_id')}, g.units, "  # noqa: S608
            f"{units_sql('e.' + quoted('amount'))}, g.low, g.high, g.n "
            f"FROM ({grouped}) g JOIN {entry} e ON e.{quoted('id')} = g.eid "
            f"WHERE g.units + {units_sql('e.' + quoted('amount'))} <> 0 "
            f"OR g.low <> e.{quoted('account_id')} OR g.high <> e.{quoted('account_id')}"
        )
        rows = fetch_rows(sql, [UsageStatus.PAID, *ids])
        for entry_id, acc, records_units, entry_units, low, high, count in rows:
            detail = f"{count} paid record(s)"
            if low != acc or high != acc:
                detail += f" of account(s) {low}..{high}"
            findings.append(
                new_finding(
                    account_id=acc,
                    check="record_entry_mismatch",
                    object_type="ledger_entry",
                    object_id=str(entry_id),
                    expected=units_money(-as_units(records_units)),
                    actual=units_money(entry_units),
                    detail=detail,
                )
            )
    return findings


# --- periods billed twice ----------------------------------------------------------------------------


def periods_billed_twice(*, account_id: int | None) -> list[Finding]:
    """Consecutive billed periods of a line (by start) must not overlap: one sorted pass with LAG."""
    record = table_of(UsageRecord)
    kinds = ", ".join(["%s"] * len(BILLED_KINDS))
    scope = "" if account_id is None else f" AND {quoted('account_id')} = %s"
    params: list[object] = [*BILLED_KINDS, UsageStatus.CANCELED] + (
        [] if account_id is None else [account_id]
    )
    # The sort carries as little as possible (ids and the two times); the offenders' details are
    # read afterwards. A wide sort row spills to disk on a small sort buffer.
    sql = (
        f"SELECT id, prev_id FROM ("  # noqa: S608
        f"SELECT {quoted('id')} AS id, {quoted('period_start')} AS period_start, "
        f"LAG({quoted('id')}) OVER w AS prev_id, LAG({quoted('period_end')}) OVER w AS prev_end "
        f"FROM {record} WHERE {quoted('kind')} IN ({kinds}) AND {quoted('status')} <> %s" + scope + " "
        f"WINDOW w AS (PARTITION BY {quoted('line_id')} ORDER BY {quoted('period_start')}, {quoted('id')})"
        f") t WHERE prev_end > period_start"
    )
    pairs = dict(fetch_rows(sql, params))
    rows = UsageRecord.objects.in_bulk([*pairs, *pairs.values()])
    findings: list[Finding] = []
    for pk, prev_id in sorted(pairs.items()):
        rec, prev = rows[pk], rows[prev_id]
        findings.append(
            new_finding(
                account_id=rec.account_id,
                check="period_billed_twice",
                object_type="usage_record",
                object_id=str(pk),
                expected=f"a period starting at or after {prev.period_end}",
                actual=str(rec.period_start),
                detail=f"line {rec.line_id} overlaps record {prev_id}",
            )
        )
    return findings
