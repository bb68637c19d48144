"""The ledger audit (issue 15, QUALITY.md B9): does the money add up?

``ledger_audit()`` returns a list of :class:`Finding`, empty when everything is consistent. Each
finding names its check (one of ``CHECKS``) and the offending row. ``manage.py audit_ledger``, the
nightly beat job and the simulator call this one function.

Checks (each a set-based statement; the ledger is read once, in primary-key chunks):

- ``balance_mismatch``: an account's balance differs from the sum of its ledger entries;
- ``negative_balance``: an account below zero;
- ``entry_without_subject``: a ledger entry that does not say what the money was for;
- ``paid_record_without_entry``: a paid usage record with a non-zero amount and no ledger entry;
- ``record_entry_mismatch``: the paid usage records pointing at a ledger entry do not add up to
  that entry (a record is positive for a charge, the entry negative; one entry may pay several
  records of one account, so the comparison is per entry), or belong to another account;
- ``period_billed_twice``: two billed periods (``new``/``renew``/``hourly``/``usage`` records that
  are not canceled) of one subscription line overlap;
- ``recharge_not_credited_once``: a ``success`` recharge without exactly one credit entry (the one
  it points at), or a recharge that is not ``success`` yet has a credit;
- ``recharge_credit_without_order``: a ``recharge`` credit entry naming no recharge order;
- ``rollup_mismatch``: an account's day or month usage rollups do not add up to its records, per
  status (``usage.audit.rollups``; ``manage.py rebuild_rollups`` repairs);
- ``count_mismatch``: a counter behind the records list's ``total`` (the account's ledger entries,
  its quota usages) differs from the rows it counts (``usage.audit.counts``).

Amounts are compared in integer units of 1/10000 (``CAST(ROUND(x * 10000))``): SQLite sums
decimals as floats, and integers add up exactly on every database.

The audit only reads, in autocommit mode, so it never holds locks that a charge would wait on. A
posting that commits while the audit runs may be seen by one chunk and not by the account scan;
such a transient mismatch is re-checked on the locked rows before it is reported (``_recheck``).
Because every statement reads committed rows on its own, the three independent parts (the ledger
pass with the recharges, the records against their entries, the billed periods) run at once on
MariaDB, each on its own connection (``PARALLEL`` threads), when the audit is not inside a
transaction; inside one (tests, a caller's ``atomic()``) they run one after the other on the
caller's connection, which alone sees its uncommitted rows. docs/benchmarks.md (B9) has the
profile behind each statement.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q

from billing.locks import account_lock_balance
from billing.models import Account, LedgerEntry, LedgerKind, RechargeOrder, RechargeStatus
from usage.audit.counts import confirmed_counts, quota_counts_vs_usages
from usage.audit.records import periods_billed_twice, records_vs_entries
from usage.audit.rollups import rollups_vs_records
from usage.audit.sql import (
    UNIT,
    Finding,
    as_units,
    audit_session,
    fetch_rows,
    new_finding,
    quoted,
    table_of,
    units_money,
    units_sql,
)

CHECKS = (
    "balance_mismatch",
    "negative_balance",
    "entry_without_subject",
    "paid_record_without_entry",
    "record_entry_mismatch",
    "period_billed_twice",
    "recharge_not_credited_once",
    "recharge_credit_without_order",
    "rollup_mismatch",
    "count_mismatch",
)
CHUNK = 200_000  # ledger entries per statement of the ledger pass
PARALLEL = 3  # connections of a whole-database audit on MariaDB (one per independent part)

# progress(step, done): called as the audit moves on; ``done`` counts ledger entries read so far
# for the step "ledger" and is 1 for every other step when it completes.
Progress = Callable[[str, int], None]
Part = Callable[[], list[Finding]]


def ledger_audit(*, namespace: str | None = None, progress: Progress | None = None) -> list[Finding]:
    """Every check of the module docstring, over every account or only ``namespace``'s.

    An unknown namespace has nothing to audit (an empty list)."""
    account_id: int | None = None
    if namespace is not None:
        account_id = Account.objects.filter(namespace=namespace).values_list("pk", flat=True).first()
        if account_id is None:
            return []
    tick: Progress = progress or (lambda step, done: None)
    others: list[tuple[str, Part]] = [
        ("records", lambda: records_vs_entries(account_id=account_id)),
        ("periods", lambda: periods_billed_twice(account_id=account_id)),
        ("rollups", lambda: rollups_vs_records(account_id=account_id)),
        ("counts", lambda: quota_counts_vs_usages(account_id=account_id)),
    ]
    findings: list[Finding] = []
    whole = account_id is None
    if PARALLEL > 1 and whole and connection.vendor == "mysql" and not connection.in_atomic_block:
        with ThreadPoolExecutor(max_workers=PARALLEL - 1, thread_name_prefix="audit") as pool:
            futures = [(step, pool.submit(_on_own_connection, part)) for step, part in others]
            with audit_session():
                findings += _ledger_pass(account_id=account_id, tick=tick)
                findings += _recharges(account_id=account_id)
            tick("recharges", 1)
            for step, future in futures:
                findings += future.result()
                tick(step, 1)
    else:
        with audit_session():
            findings += _ledger_pass(account_id=account_id, tick=tick)
            for step, part in others:
                findings += part()
                tick(step, 1)
            findings += _recharges(account_id=account_id)
        tick("recharges", 1)
    return _named(findings)


def _on_own_connection(part: Part) -> list[Finding]:
    """Run ``part`` in this worker thread on the thread's own connection, closed afterwards."""
    from django.db import connections

    try:
        with audit_session():
            return part()
    finally:
        connections.close_all()


def ledger_entry_count(*, namespace: str | None = None) -> int:
    """What the ledger pass will read (for a progress bar's total)."""
    qs = LedgerEntry.objects.all()
    if namespace is not None:
        qs = qs.filter(account__namespace=namespace)
    return qs.count()


def _named(findings: list[Finding]) -> list[Finding]:
    """Fill in the namespaces (one query for the accounts that have findings)."""
    ids = {f.account_id for f in findings if f.account_id is not None}
    names = dict(Account.objects.filter(pk__in=ids).values_list("pk", "namespace")) if ids else {}
    return [replace(f, namespace=names.get(f.account_id, "")) if f.account_id else f for f in findings]


# --- the ledger pass: balances, negative balances, entries without a subject -------------------------


def _ledger_pass(*, account_id: int | None, tick: Progress) -> list[Finding]:
    """Balances against the sum of their entries (one pass over the ledger in id chunks), negative
    balances, and entries without a subject."""
    sums, counts, subjectless = _ledger_sums(account_id=account_id, tick=tick)
    findings = _recheck(_balance_findings(account_id=account_id, sums=sums, counts=counts))
    if subjectless:
        findings += _subjectless_findings(subjectless)
    return findings


def _ledger_sums(
    *, account_id: int | None, tick: Progress
) -> tuple[dict[int, int], dict[int, int], set[int]]:
    """Per account: the sum of its entries in units, how many there are, and whether any entry
    lacks a subject."""
    entry = table_of(LedgerEntry)
    nosubject = f"CASE WHEN {quoted('subject_type')} = '' OR {quoted('subject_id')} = '' THEN 1 ELSE 0 END"
    select = (
        f"SELECT {quoted('account_id')}, SUM({units_sql(quoted('amount'))}), SUM({nosubject}), COUNT(*) "  # noqa: S608
        f"FROM {entry} WHERE "
    )
    sums: dict[int, int] = {}
    counts: dict[int, int] = {}
    subjectless: set[int] = set()
    if account_id is not None:
        parts = [(f"{quoted('account_id')} = %s GROUP BY {quoted('account_id')}", [account_id])]
    else:
        bounds = fetch_rows(f"SELECT MIN({quoted('id')}), MAX({quoted('id')}) FROM {entry}")[0]  # noqa: S608
        low, high = (int(bounds[0]), int(bounds[1])) if bounds[0] is not None else (1, 0)
        parts = [
            (
                f"{quoted('id')} >= %s AND {quoted('id')} < %s GROUP BY {quoted('account_id')}",
                [start, start + CHUNK],
            )
            for start in range(low, high + 1, CHUNK)
        ]
    for where, params in parts:
        read = 0
        for acc, total, nosubj, count in fetch_rows(select + where, params):
            sums[acc] = sums.get(acc, 0) + as_units(total)
            counts[acc] = counts.get(acc, 0) + int(count)
            read += int(count)
            if nosubj:
                subjectless.add(acc)
        tick("ledger", read)
    return sums, counts, subjectless


def _balance_findings(
    *, account_id: int | None, sums: dict[int, int], counts: dict[int, int]
) -> list[Finding]:
    findings: list[Finding] = []
    balance_units = units_sql(quoted("balance"))
    for acc, units, entry_count in fetch_rows(
        f"SELECT {quoted('id')}, {balance_units}, {quoted('ledger_entry_count')} FROM {table_of(Account)}"  # noqa: S608
        + ("" if account_id is None else f" WHERE {quoted('id')} = %s"),
        [] if account_id is None else [account_id],
    ):
        if int(entry_count) != counts.get(acc, 0):
            findings.append(
                new_finding(
                    account_id=acc,
                    check="count_mismatch",
                    object_type="account",
                    object_id=str(acc),
                    expected=str(counts.get(acc, 0)),
                    actual=str(entry_count),
                )
            )
        units = as_units(units)
        if units != sums.get(acc, 0):
            findings.append(
                new_finding(
                    account_id=acc,
                    check="balance_mismatch",
                    object_type="account",
                    object_id=str(acc),
                    expected=units_money(sums.get(acc, 0)),
                    actual=units_money(units),
                    detail="balance != sum of ledger entries",
                )
            )
        if units < 0:
            findings.append(
                new_finding(
                    account_id=acc,
                    check="negative_balance",
                    object_type="account",
                    object_id=str(acc),
                    expected=">= 0",
                    actual=units_money(units),
                )
            )
    return findings


def _subjectless_findings(subjectless: set[int]) -> list[Finding]:
    return [
        new_finding(
            account_id=acc,
            check="entry_without_subject",
            object_type="ledger_entry",
            object_id=str(pk),
            expected="a subject",
            actual="",
            detail=f"{kind} {amount}",
        )
        for pk, acc, kind, amount in (
            LedgerEntry.objects.filter(account_id__in=sorted(subjectless))
            .filter(_no_subject())
            .order_by("pk")
            .values_list("pk", "account_id", "kind", "amount")
            .iterator()
        )
    ]


def _no_subject() -> Q:
    return Q(subject_type="") | Q(subject_id="")


def _recheck(findings: list[Finding]) -> list[Finding]:
    """Confirm each balance (and entry count) mismatch on a consistent snapshot of that one account
    (the account row and its entries read in one transaction under the account's row lock), so a
    posting that committed between two statements of the pass is not reported as drift."""
    kept: list[Finding] = []
    for finding in findings:
        if finding.check == "count_mismatch" and finding.account_id is not None:
            kept += confirmed_counts(finding.account_id, ledger=True)
            continue
        if finding.check != "balance_mismatch":
            kept.append(finding)
            continue
        with transaction.atomic():
            balance = None if finding.account_id is None else account_lock_balance(finding.account_id)
            total = fetch_rows(
                f"SELECT SUM({units_sql(quoted('amount'))}) FROM {table_of(LedgerEntry)} "  # noqa: S608
                f"WHERE {quoted('account_id')} = %s",
                [finding.account_id],
            )[0][0]
        if balance is None:
            continue
        units = int((Decimal(balance) / UNIT).to_integral_value())
        if units != as_units(total):
            kept.append(replace(finding, expected=units_money(total), actual=units_money(units)))
    return kept


# --- recharges ---------------------------------------------------------------------------------------


def _recharges(*, account_id: int | None) -> list[Finding]:
    recharge, entry = table_of(RechargeOrder), table_of(LedgerEntry)
    scope = "" if account_id is None else f" AND o.{quoted('account_id')} = %s"
    sql = (
        f"SELECT o.{quoted('id')}, o.{quoted('public_id')}, o.{quoted('account_id')}, o.{quoted('status')}, "  # noqa: S608
        f"o.{quoted('ledger_entry_id')}, COUNT(e.{quoted('id')}), MAX(e.{quoted('id')}) "
        f"FROM {recharge} o LEFT JOIN {entry} e ON e.{quoted('subject_type')} = %s "
        f"AND e.{quoted('subject_id')} = o.{quoted('public_id')} "
        f"AND e.{quoted('account_id')} = o.{quoted('account_id')} "
        f"WHERE 1 = 1" + scope + " "
        f"GROUP BY o.{quoted('id')}, o.{quoted('public_id')}, o.{quoted('account_id')}, "
        f"o.{quoted('status')}, "
        f"o.{quoted('ledger_entry_id')} "
        f"HAVING (o.{quoted('status')} = %s AND (COUNT(e.{quoted('id')}) <> 1 "
        f"OR o.{quoted('ledger_entry_id')} IS NULL "
        f"OR o.{quoted('ledger_entry_id')} <> MAX(e.{quoted('id')}))) "
        f"OR (o.{quoted('status')} <> %s AND COUNT(e.{quoted('id')}) > 0)"
    )
    # placeholders in textual order: subject type, [account], success, success
    ordered: list[object] = ["recharge"] + ([] if account_id is None else [account_id])
    ordered += [RechargeStatus.SUCCESS, RechargeStatus.SUCCESS]
    findings: list[Finding] = []
    for _pk, public_id, acc, status, linked, credits, last in fetch_rows(sql, ordered):
        findings.append(
            new_finding(
                account_id=acc,
                check="recharge_not_credited_once",
                object_type="recharge_order",
                object_id=public_id,
                expected="1 credit" if status == RechargeStatus.SUCCESS else "no credit",
                actual=f"{credits} credit(s)",
                detail=f"status {status}, points at entry {linked}, last credit entry {last}",
            )
        )
    scope = "" if account_id is None else f" AND e.{quoted('account_id')} = %s"
    sql = (
        f"SELECT e.{quoted('id')}, e.{quoted('account_id')}, e.{quoted('subject_id')}, e.{quoted('amount')} "  # noqa: S608
        f"FROM {entry} e LEFT JOIN {recharge} o ON o.{quoted('public_id')} = e.{quoted('subject_id')} "
        f"AND o.{quoted('account_id')} = e.{quoted('account_id')} "
        f"WHERE e.{quoted('subject_type')} = %s AND e.{quoted('kind')} = %s AND o.{quoted('id')} IS NULL"
        + scope
    )
    for pk, acc, subject_id, amount in fetch_rows(
        sql, ["recharge", LedgerKind.RECHARGE] + ([] if account_id is None else [account_id])
    ):
        findings.append(
            new_finding(
                account_id=acc,
                check="recharge_credit_without_order",
                object_type="ledger_entry",
                object_id=str(pk),
                expected="a recharge order",
                actual=f"none named {subject_id}",
                detail=f"credit {amount}",
            )
        )
    return findings
