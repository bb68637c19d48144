"""Celery tasks of statements and credit notes: thin, idempotent, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.db.models import Exists, OuterRef

from billing.statements import credit_notes
from billing.statements.credit_notes import credit_notes_sweep
from billing.statements.models import CreditNote, DocumentPdf, Statement
from billing.statements.periods import last_closed_period, parse_period
from billing.statements.render import documents_render
from billing.statements.services import statement_batch_issue_next, statement_batches_plan
from config.clock import parse_moment
from config.enqueue import enqueue_on_commit

SWEEP_RENDER_LIMIT = 5000


@shared_task(name="billing.issue_statements", acks_late=True, ignore_result=True)
def issue_statements(period: str | None = None, at: str | None = None) -> int:
    """Beat (daily; the 1st issues the month just closed, later days repair): cut the period into
    slices and start ``STATEMENT_WORKERS`` workers on them. Returns the pending slices.

    The workers are sent on commit: under ``run_billing --dry-run`` the slices are rolled back
    and no worker may be sent to issue them (or older pending ones) for real."""
    target = parse_period(period) if period else last_closed_period(parse_moment(at))
    pending = statement_batches_plan(period=target)
    for _ in range(min(pending, max(1, settings.STATEMENT_WORKERS))):
        enqueue_on_commit(issue_statement_batches.name, period=target.label)
    return pending


@shared_task(name="billing.issue_statement_batches", acks_late=True, ignore_result=True)
def issue_statement_batches(period: str) -> int:
    """Issue pending slices (``SKIP LOCKED``) until none is left; returns the statements issued."""
    target = parse_period(period)
    issued = 0
    while (result := statement_batch_issue_next(period=target)) is not None:
        issued += len(result.issued)
    return issued


@shared_task(name="billing.render_document_pdfs", acks_late=True, ignore_result=True)
def render_document_pdfs(numbers: list[str]) -> int:
    return documents_render(numbers=numbers)


@shared_task(name="billing.credit_note_for_entry", acks_late=True, ignore_result=True)
def credit_note_for_entry(entry_id: int) -> str | None:
    note = credit_notes.credit_note_for_entry(entry_id=entry_id)  # the task shares the name
    return note.number if note is not None else None


@shared_task(name="billing.credit_notes_after_period", acks_late=True, ignore_result=True)
def credit_notes_after_period(account_ids: list[int], period: str) -> int:
    return len(credit_notes.credit_notes_after_period(account_ids=account_ids, period=parse_period(period)))


@shared_task(name="billing.statements_sweep", acks_late=True, ignore_result=True)
def statements_sweep(at: str | None = None) -> dict[str, int]:
    """Daily repair: credit notes a lost task did not create, PDFs a lost task did not render."""
    now = parse_moment(at)
    notes = credit_notes_sweep(now=now)
    since = now - settings.STATEMENT_SWEEP_WINDOW
    missing: list[str] = []
    for model in (Statement, CreditNote):
        missing += list(
            model.objects.filter(issued_at__gte=since)
            .filter(~Exists(DocumentPdf.objects.filter(number=OuterRef("number"))))
            .order_by("pk")
            .values_list("number", flat=True)[:SWEEP_RENDER_LIMIT]
        )
    return {"credit_notes": notes, "pdfs": documents_render(numbers=missing)}
