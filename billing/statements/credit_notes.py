"""Credit notes: money given back for a period that is already on an issued statement.

The ledger calls ``after_issue.entry_posted`` for every new entry; a refund, or a positive
adjustment whose subject is ``("statement", "<number>[#<line>]")`` (the admin's "correction"), is
checked here once it commits. Which statement does a refund correct? The one holding the latest
charge of the same subject (the order) before the refund: an admin cancel refunds the unused days
of the last period paid, a change-config or hourly stop refund the rest of the last paid hour or
period, a vehicle refund the payment. If that charge is in the refund's own month, no document is
needed (that month's statement shows both); if its month has no issued statement yet, issuing it
looks at the refunds posted after its end (``credit_notes_after_period``). The daily sweep repeats
the check for recent refunds, so a lost task delays a credit note but never loses it.

Numbers come from their own gap-free counter; one credit note per ledger entry (unique).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q

from billing.models import LedgerEntry, LedgerKind
from billing.statements import after_issue
from billing.statements.models import CreditNote, DocumentKind, Statement, StatementLine
from billing.statements.numbering import format_number, numbers_allocate, sequence_ensure, sequence_lock
from billing.statements.periods import Period, period_of
from config import clock
from config.db import retry_on_conflict

logger = logging.getLogger(__name__)


def correction_subject(*, number: str, position: int | None = None) -> tuple[str, str]:
    """The subject of an adjustment that corrects a statement (or one of its lines)."""
    return after_issue.CORRECTION_SUBJECT, number if position is None else f"{number}#{position}"


def _corrected(entry: LedgerEntry) -> tuple[Statement, list[StatementLine]] | None:
    if entry.kind == LedgerKind.ADJUSTMENT:
        number, _, position = entry.subject_id.partition("#")
        statement = Statement.objects.filter(number=number, account_id=entry.account_id).first()
        if statement is None:
            logger.error("correction %s names statement %s, not one of its account's", entry.pk, number)
            return None
        lines = list(statement.lines.filter(position=int(position))) if position.isdigit() else []
        return statement, lines
    if not entry.subject_type:
        return None
    charge = (
        LedgerEntry.objects.filter(
            account_id=entry.account_id,
            subject_type=entry.subject_type,
            subject_id=entry.subject_id,
            kind=LedgerKind.CHARGE,
            pk__lt=entry.pk,
        )
        .order_by("-pk")
        .only("pk", "created_at")
        .first()
    )
    if charge is None:
        return None
    charged_in = period_of(charge.created_at)
    if charged_in.month >= period_of(entry.created_at).month:
        return None  # the same month: its statement will show the charge and the refund
    statement = Statement.objects.filter(account_id=entry.account_id, period=charged_in.month).first()
    if statement is None:
        return None  # not issued yet; issuing it runs credit_notes_after_period
    lines = list(
        statement.lines.filter(
            kind=LedgerKind.CHARGE, group_type=entry.subject_type, group_id=entry.subject_id
        )
    )
    return statement, lines


@retry_on_conflict
def credit_note_for_entry(*, entry_id: int, at: datetime | None = None) -> CreditNote | None:
    """The credit note of a refund/correction entry: the existing one, a new one, or None when the
    money corrects nothing on an issued statement. Safe to run any number of times."""
    existing = CreditNote.objects.filter(ledger_entry_id=entry_id).first()
    if existing is not None:
        return existing
    entry = LedgerEntry.objects.select_related("account").get(pk=entry_id)
    if not after_issue.may_need_credit_note(entry):
        return None
    target = _corrected(entry)
    if target is None:
        return None
    statement, lines = target
    at = at or clock.now()
    year = clock.local(at).year
    sequence_ensure(kind=DocumentKind.CREDIT_NOTE, year=year)
    with transaction.atomic():
        row = sequence_lock(kind=DocumentKind.CREDIT_NOTE, year=year)
        existing = CreditNote.objects.filter(ledger_entry_id=entry_id).first()  # decided under the lock
        if existing is not None:
            return existing
        seq = numbers_allocate(row=row, count=1)[0]
        note = CreditNote.objects.create(
            number=format_number(DocumentKind.CREDIT_NOTE, year, seq),
            year=year,
            sequence=seq,
            account_id=entry.account_id,
            namespace=entry.account.namespace,
            currency=entry.account.currency,
            statement=statement,
            ledger_entry=entry,
            amount=entry.amount,
            reason=(entry.memo or f"{entry.kind} of {entry.subject_type} {entry.subject_id}".strip())[:500],
            actor_id=entry.actor_id,
            issued_at=at,
        )
        if lines:
            note.lines.set(lines)
        after_issue.credit_note_issued(note)
    return note


def _money_back() -> Q:
    return Q(kind=LedgerKind.REFUND, amount__gt=0) | Q(
        kind=LedgerKind.ADJUSTMENT, amount__gt=0, subject_type=after_issue.CORRECTION_SUBJECT
    )


def _without_note(qs: object) -> object:
    return qs.filter(~Exists(CreditNote.objects.filter(ledger_entry_id=OuterRef("pk"))))  # type: ignore[attr-defined]


def credit_notes_after_period(*, account_ids: Sequence[int], period: Period) -> list[CreditNote]:
    """Refunds posted after ``period`` ended (before its statements were issued) that correct it."""
    qs = LedgerEntry.objects.filter(account_id__in=list(account_ids), created_at__gte=period.end).filter(
        _money_back()
    )
    ids = list(_without_note(qs).order_by("pk").values_list("pk", flat=True))  # type: ignore[attr-defined]
    notes = [credit_note_for_entry(entry_id=pk) for pk in ids]
    return [n for n in notes if n is not None]


def credit_notes_sweep(*, now: datetime | None = None, window: timedelta | None = None) -> int:
    """Re-check recent refunds and corrections without a credit note (a lost task, a late issue)."""
    since = (now or clock.now()) - (window or settings.STATEMENT_SWEEP_WINDOW)
    qs = LedgerEntry.objects.filter(created_at__gte=since).filter(_money_back())
    created = 0
    for pk in _without_note(qs).order_by("pk").values_list("pk", flat=True).iterator():  # type: ignore[attr-defined]
        if credit_note_for_entry(entry_id=pk) is not None:
            created += 1
    return created
