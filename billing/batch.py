"""Batch recharge from a finance CSV (docs/billing.md): validate everything, then apply idempotently.

Line format ``namespace,amount,reference[,memo]`` (an optional header line starting with
``namespace`` is skipped). Every line is checked before anything is written; each valid line is one
``account_credit`` keyed ``batch:<reference>``, so re-running a file applies nothing twice. A
reference that appears on several lines is ambiguous, so *all* its lines are rejected.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from billing.models import Account
from billing.recharges import MAX_RECHARGE
from billing.services import account_credit

MAX_REFERENCE = 200


@dataclass(frozen=True)
class BatchLine:
    line_no: int
    namespace: str
    amount: Decimal
    reference: str
    memo: str
    account_id: int


@dataclass
class BatchReport:
    valid: list[BatchLine] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    applied: int = 0
    already_applied: int = 0
    applied_money: Decimal = Decimal("0")
    conflicts: list[tuple[int, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.valid) + len(self.rejected)

    @property
    def valid_money(self) -> Decimal:
        return sum((line.amount for line in self.valid), Decimal("0"))


def _amount(raw: str) -> tuple[Decimal | None, str]:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        return None, f"bad amount {raw!r}: not a number"
    if not value.is_finite():
        return None, f"bad amount {raw!r}: not a number"
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        return None, f"bad amount {raw!r}: more than 4 decimals"
    if value <= 0:
        return None, f"bad amount {raw!r}: must be > 0"
    if value > MAX_RECHARGE:
        return None, f"bad amount {raw!r}: must be <= {MAX_RECHARGE}"
    return value, ""


def batch_validate(lines: Iterable[str]) -> BatchReport:
    """Parse and check every line; nothing is written."""
    report = BatchReport()
    rows: list[tuple[int, list[str]]] = []
    for line_no, row in enumerate(csv.reader(lines), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue
        if line_no == 1 and row[0].strip().lower() == "namespace":
            continue
        rows.append((line_no, [cell.strip() for cell in row]))
    refs = Counter(r[2] for _, r in rows if len(r) >= 3 and r[2])
    namespaces = {r[0] for _, r in rows if r}
    accounts = dict(Account.objects.filter(namespace__in=namespaces).values_list("namespace", "id"))
    for line_no, row in rows:
        reasons: list[str] = []
        if len(row) not in (3, 4):
            report.rejected.append((line_no, f"expected 3 or 4 columns, got {len(row)}"))
            continue
        namespace, raw_amount, reference = row[0], row[1], row[2]
        memo = row[3] if len(row) == 4 else ""
        amount, why = _amount(raw_amount)
        if amount is None:
            reasons.append(why)
        if namespace not in accounts:
            reasons.append(f"unknown namespace {namespace!r}")
        if not reference:
            reasons.append("missing reference")
        elif len(reference) > MAX_REFERENCE:
            reasons.append(f"reference longer than {MAX_REFERENCE} characters")
        elif refs[reference] > 1:
            reasons.append(f"duplicate reference {reference!r} in the file")
        if len(memo) > 400:
            reasons.append("memo longer than 400 characters")
        if reasons:
            report.rejected.append((line_no, "; ".join(reasons)))
            continue
        assert amount is not None
        report.valid.append(BatchLine(line_no, namespace, amount, reference, memo, accounts[namespace]))
    return report


def batch_apply(
    report: BatchReport, *, actor: Any = None, progress: Callable[[], None] | None = None
) -> None:
    """Credit every valid line; a line already applied (same reference) is counted, not repeated."""
    for line in report.valid:
        posting = account_credit(
            account_id=line.account_id,
            amount=line.amount,
            idempotency_key=f"batch:{line.reference}",
            subject=("batch_recharge", line.reference),
            actor=actor,
            memo=line.memo or f"batch recharge {line.reference}",
        )
        if posting.replayed:
            report.already_applied += 1
            if posting.entry.amount != line.amount:
                report.conflicts.append(
                    (
                        line.line_no,
                        f"reference {line.reference!r} was applied before with {posting.entry.amount}",
                    )
                )
        else:
            report.applied += 1
            report.applied_money += line.amount
        if progress:
            progress()
