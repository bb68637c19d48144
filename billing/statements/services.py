"""Issuing statements: numbers, rows, and what happens after commit (PDF, notification, credit notes).

``statements_issue_for`` is the one write path; beat, ``manage.py issue_statements`` and the admin's
"issue now" all reach it. The period's numbers are read first, outside any lock (a closed month
does not change: entries are stamped with the time they are posted). Then, under the locked
counter row (``numbering``), the accounts that got a statement meanwhile are dropped, the numbers
are taken and the statements and lines inserted in bulk. Every issuer takes that lock, so "one
statement per account and period" holds without a race; the unique constraint backs it up.

A whole run is cut into ``StatementBatch`` slices of account ids, taken with ``SKIP LOCKED`` so any
number of workers share it (``statement_batch_issue_next``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, Min, OuterRef

from billing.errors import BillingInvalidInput
from billing.models import Account
from billing.statements import after_issue
from billing.statements.compute import AccountRef, StatementData, statements_compute
from billing.statements.models import DocumentKind, Statement, StatementBatch, StatementLine
from billing.statements.numbering import format_number, numbers_allocate, sequence_ensure, sequence_lock
from billing.statements.periods import Period
from config import clock
from config.bulk_insert import rows_insert, values_insert
from config.db import retry_on_conflict

logger = logging.getLogger(__name__)


@dataclass
class IssueResult:
    issued: list[Statement] = field(default_factory=list)
    already_issued: int = 0
    inconsistent: list[int] = field(default_factory=list)  # account ids whose ledger chain is broken

    def add(self, other: IssueResult) -> None:
        self.issued += other.issued
        self.already_issued += other.already_issued
        self.inconsistent += other.inconsistent


def _check_closed(period: Period, at: datetime) -> None:
    if not period.is_closed(at):
        raise BillingInvalidInput(
            f"{period} is not over yet: preview a draft instead",
            errors={"period": [f"{period} is still running; only closed months are issued"]},
        )


def candidates(
    *, period: Period, id_range: tuple[int, int] | None = None, namespace: str | None = None
) -> list[AccountRef]:
    """Accounts that existed before the period's end and have no statement for it yet."""
    qs = Account.objects.filter(created_at__lt=period.end).filter(
        ~Exists(Statement.objects.filter(account_id=OuterRef("pk"), period=period.month))
    )
    if id_range is not None:
        qs = qs.filter(pk__gte=id_range[0], pk__lte=id_range[1])
    if namespace is not None:
        qs = qs.filter(namespace=namespace)
    return [AccountRef(*row) for row in qs.order_by("pk").values_list("pk", "namespace", "currency")]


def _statement_row(
    data: StatementData, *, year: int, seq: int, at: datetime, actor: Any, reason: str
) -> Statement:
    return Statement(
        number=format_number(DocumentKind.STATEMENT, year, seq),
        year=year,
        sequence=seq,
        account_id=data.account_id,
        namespace=data.namespace,
        currency=data.currency,
        period=data.period.month,
        period_start=data.period.start,
        period_end=data.period.end,
        opening_balance=data.opening_balance,
        total_recharges=data.total("recharge"),
        total_charges=data.total("charge"),
        total_refunds=data.total("refund"),
        total_adjustments=data.total("adjustment"),
        closing_balance=data.closing_balance,
        entry_count=data.entry_count,
        free_quota=data.free_quota,
        credit_notes=data.credit_notes,
        issued_at=at,
        issued_by=actor if getattr(actor, "pk", None) else None,
        issue_reason=reason[:500],
    )


LINE_FIELDS = (
    "statement_id", "position", "kind", "group_type", "group_id", "description", "entry_count", "first_at",
    "last_at", "quantity", "unit_price", "amount", "details",
)  # fmt: skip


def _line_rows(statement: Statement, data: StatementData) -> Iterator[tuple[Any, ...]]:
    """The statement's lines as rows in the order of ``LINE_FIELDS``."""
    for position, ln in enumerate(data.lines, start=1):
        yield (
            statement.pk, position, ln.kind, ln.group_type, ln.group_id[:64], ln.description, ln.entry_count,
            ln.first_at, ln.last_at, ln.quantity, ln.unit_price, ln.amount, ln.details,
        )  # fmt: skip


@retry_on_conflict
def statements_issue_for(
    *,
    accounts: Sequence[AccountRef],
    period: Period,
    actor: Any = None,
    reason: str = "",
    at: datetime | None = None,
) -> IssueResult:
    """Issue the statements of ``accounts`` for the closed ``period`` (those with something to state
    and none yet). An account whose opening balance plus lines differs from its ledger balance at the
    period end gets no statement and an error in the log: a wrong document is worse than a late one."""
    at = at or clock.now()
    _check_closed(period, at)
    result = IssueResult()
    data = statements_compute(accounts=accounts, period=period)
    good = []
    for d in data:
        if d.consistent:
            good.append(d)
        else:
            result.inconsistent.append(d.account_id)
            logger.error(
                "statement %s of %s not issued: opening %s + lines = %s but the ledger says %s",
                period,
                d.namespace,
                d.opening_balance,
                d.closing_balance,
                d.ledger_closing,
            )
    if not good:
        return result
    year = clock.local(at).year
    sequence_ensure(kind=DocumentKind.STATEMENT, year=year)  # a no-op after the first issue of the year
    with transaction.atomic():
        row = sequence_lock(kind=DocumentKind.STATEMENT, year=year)
        existing = set(
            Statement.objects.filter(
                period=period.month, account_id__in=[d.account_id for d in good]
            ).values_list("account_id", flat=True)
        )
        todo = [d for d in good if d.account_id not in existing]
        result.already_issued = len(existing)
        if not todo:
            return result
        seqs = numbers_allocate(row=row, count=len(todo))
        statements = [
            _statement_row(d, year=year, seq=seq, at=at, actor=actor, reason=reason)
            for d, seq in zip(todo, seqs, strict=True)
        ]
        rows_insert(statements)
        numbers = [s.number for s in statements]
        pks = dict(Statement.objects.filter(number__in=numbers).values_list("number", "pk"))
        for s in statements:
            s.pk = pks[s.number]
            s._state.adding = False  # stored: from now on the model refuses save()
        lines = [line for s, d in zip(statements, todo, strict=True) for line in _line_rows(s, d)]
        values_insert(StatementLine, LINE_FIELDS, lines)
        after_issue.statements_issued(statements=statements, period=period)
    result.issued = statements
    return result


def statement_issue_now(*, account: Account, period: Period, actor: Any, reason: str) -> IssueResult:
    """The admin's "issue now" for one account and closed period, with a mandatory reason."""
    if not reason or not reason.strip():
        raise BillingInvalidInput("a reason is required", errors={"reason": ["required"]})
    refs = candidates(period=period, namespace=account.namespace)
    return statements_issue_for(accounts=refs, period=period, actor=actor, reason=reason.strip())


@retry_on_conflict
def statement_batches_plan(*, period: Period, chunk_size: int | None = None) -> int:
    """Cut the period's accounts into id slices (idempotent: the same slices every time for a chunk
    size). Returns how many slices are still pending."""
    _check_closed(period, clock.now())
    sequence_ensure(kind=DocumentKind.STATEMENT, year=clock.local(clock.now()).year)
    size = max(1, chunk_size or settings.STATEMENT_CHUNK_SIZE)
    bounds = Account.objects.filter(created_at__lt=period.end).aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is not None:
        StatementBatch.objects.bulk_create(
            [
                StatementBatch(
                    period=period.month, first_account_id=k * size, last_account_id=k * size + size - 1
                )
                for k in range(bounds["lo"] // size, bounds["hi"] // size + 1)
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
    return StatementBatch.objects.filter(period=period.month, state=StatementBatch.State.PENDING).count()


@retry_on_conflict
def statement_batch_issue_next(*, period: Period) -> IssueResult | None:
    """Take one pending slice (``SKIP LOCKED``: another worker's slice is not waited for), issue it
    and mark it done in the same transaction. None when no slice is left."""
    at = clock.now()
    sequence_ensure(kind=DocumentKind.STATEMENT, year=clock.local(at).year)  # before the transaction
    with transaction.atomic():
        batch = (
            StatementBatch.objects.select_for_update(skip_locked=True)
            .filter(period=period.month, state=StatementBatch.State.PENDING)
            .order_by("first_account_id")
            .first()
        )
        if batch is None:
            return None
        refs = candidates(period=period, id_range=(batch.first_account_id, batch.last_account_id))
        result = statements_issue_for(accounts=refs, period=period, at=at)
        batch.state = StatementBatch.State.DONE
        batch.issued = len(result.issued)
        batch.finished_at = clock.now()
        batch.save(update_fields=["state", "issued", "finished_at"])
    return result


def statements_issue_run(
    *, period: Period, chunk_size: int | None = None, progress: Callable[[int], Any] | None = None
) -> IssueResult:
    """Plan the slices and issue them until none is left (other workers may take some)."""
    statement_batches_plan(period=period, chunk_size=chunk_size)
    total = IssueResult()
    while (result := statement_batch_issue_next(period=period)) is not None:
        total.add(result)
        if progress is not None:
            progress(1)
    return total


def statements_preview(
    *, period: Period, namespace: str | None = None, chunk_size: int | None = None
) -> Iterator[list[StatementData]]:
    """What issuing would state, chunk by chunk, through the same computation; writes nothing.
    Works for the running month too (the draft)."""
    size = max(1, chunk_size or settings.STATEMENT_CHUNK_SIZE)
    after = 0
    while True:
        qs = Account.objects.filter(created_at__lt=period.end, pk__gt=after)
        if namespace is not None:
            qs = qs.filter(namespace=namespace)
        refs = [AccountRef(*r) for r in qs.order_by("pk").values_list("pk", "namespace", "currency")[:size]]
        if not refs:
            return
        after = refs[-1].id
        yield statements_compute(accounts=refs, period=period)


def statement_draft(*, account: Account, period: Period) -> StatementData:
    """The statement ``account`` would get for ``period`` if it were issued now (no number, no row)."""
    ref = AccountRef(account.pk, account.namespace, account.currency)
    return statements_compute(accounts=[ref], period=period, include_empty=True)[0]
