"""What follows a document's commit: its PDF, its notification, and credit-note checks.

Everything here is enqueued by task *name* after commit (``config.enqueue.enqueue_on_commit``): a
rolled-back issue sends nothing, a broken broker never rolls an issue back (the failed send is
logged as an error), and the daily sweeps (``billing.statements_sweep``) render what is missing and
look again at refunds. Notifications go through the existing sender, ``orders.notify_batch``
(billing does not import orders; the task is looked up by name in the Celery app).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from billing.models import LedgerEntry, LedgerKind
from config.enqueue import enqueue_on_commit

RENDER_TASK = "billing.render_document_pdfs"
CREDIT_NOTE_TASK = "billing.credit_note_for_entry"
LATE_REFUNDS_TASK = "billing.credit_notes_after_period"
NOTIFY_TASK = "orders.notify_batch"
CORRECTION_SUBJECT = "statement"


def may_need_credit_note(entry: LedgerEntry) -> bool:
    """Money given back: a refund, or a positive adjustment marked as a correction of a statement."""
    if entry.amount <= 0:
        return False
    return entry.kind == LedgerKind.REFUND or (
        entry.kind == LedgerKind.ADJUSTMENT and entry.subject_type == CORRECTION_SUBJECT
    )


def entry_posted(entry: LedgerEntry) -> None:
    """Called by the ledger for every new entry: a refund or correction is checked against issued
    statements once it commits (``credit_notes.credit_note_for_entry``)."""
    if may_need_credit_note(entry):
        entry_id = entry.pk
        enqueue_on_commit(CREDIT_NOTE_TASK, entry_id=entry_id)


def statement_payload(statement: Any) -> dict[str, Any]:
    return {
        "event": "statement_issued",
        "time": timezone.now().isoformat(),
        "subject": statement.number,
        "statement": {
            "number": statement.number,
            "namespace": statement.namespace,
            "period": f"{statement.period:%Y-%m}",
            "currency": statement.currency,
            "opening_balance": str(statement.opening_balance),
            "closing_balance": str(statement.closing_balance),
            "issued_at": statement.issued_at.isoformat(),
            "url": f"/api/v1/billing/statements/{statement.number}",
            "pdf_url": f"/api/v1/billing/statements/{statement.number}.pdf",
        },
        "data": {},
    }


def credit_note_payload(note: Any) -> dict[str, Any]:
    return {
        "event": "credit_note_issued",
        "time": timezone.now().isoformat(),
        "subject": note.number,
        "credit_note": {
            "number": note.number,
            "namespace": note.namespace,
            "statement": note.statement.number,
            "currency": note.currency,
            "amount": str(note.amount),
            "reason": note.reason,
            "issued_at": note.issued_at.isoformat(),
            "url": f"/api/v1/billing/credit-notes/{note.number}",
            "pdf_url": f"/api/v1/billing/credit-notes/{note.number}.pdf",
        },
        "data": {},
    }


def statements_issued(*, statements: list[Any], period: Any) -> None:
    """One PDF task, one notification task and one late-refund check per issued chunk."""
    numbers = [s.number for s in statements]
    payloads = [statement_payload(s) for s in statements]
    account_ids = [s.account_id for s in statements]
    label = str(period)
    enqueue_on_commit(RENDER_TASK, numbers=numbers)
    enqueue_on_commit(NOTIFY_TASK, payloads=payloads)
    enqueue_on_commit(LATE_REFUNDS_TASK, account_ids=account_ids, period=label)


def credit_note_issued(note: Any) -> None:
    numbers = [note.number]
    payloads = [credit_note_payload(note)]
    enqueue_on_commit(RENDER_TASK, numbers=numbers)
    enqueue_on_commit(NOTIFY_TASK, payloads=payloads)
