"""Reads of issued documents for the API and the admin, with tenancy applied."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from billing.errors import CreditNoteNotFound, StatementNotFound
from billing.models import Account
from billing.statements.models import CreditNote, DocumentPdf, Statement
from billing.statements.periods import Period
from billing.tenancy import visible


def statements_of(*, account: Account, period: Period | None = None) -> QuerySet[Statement]:
    qs = Statement.objects.filter(account_id=account.pk)
    if period is not None:
        qs = qs.filter(period=period.month)
    return qs.annotate(pdf_ready=Exists(DocumentPdf.objects.filter(number=OuterRef("number")))).order_by(
        "-period", "-sequence"
    )


def credit_notes_of(*, account: Account, period: Period | None = None) -> QuerySet[CreditNote]:
    """Credit notes of ``account``; with ``period``, those correcting that month's statement."""
    qs = CreditNote.objects.filter(account_id=account.pk).select_related("statement", "actor")
    if period is not None:
        qs = qs.filter(statement__period=period.month)
    return qs.order_by("-issued_at", "-sequence")


def _visible(qs: QuerySet[Any], user: Any) -> QuerySet[Any]:
    return visible(qs, user)


def statement_get(*, user: Any, number: str) -> Statement:
    """A statement the user may read; another tenant's number is 404 like an unknown one."""
    found = (
        _visible(Statement.objects.filter(number=number), user)
        .annotate(pdf_ready=Exists(DocumentPdf.objects.filter(number=OuterRef("number"))))
        .first()
    )
    if found is None:
        raise StatementNotFound(f"statement {number} not found")
    return found


def credit_note_get(*, user: Any, number: str) -> CreditNote:
    found = (
        _visible(CreditNote.objects.filter(number=number), user).select_related("statement", "actor").first()
    )
    if found is None:
        raise CreditNoteNotFound(f"credit note {number} not found")
    return found
