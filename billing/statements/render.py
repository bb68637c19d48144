"""HTML and PDF of statements and credit notes; the PDF is rendered once and stored.

The HTML comes from ``templates/billing/statement.html`` / ``credit_note.html``; the PDF is that
HTML through WeasyPrint (docs/dependencies.md). ``document_pdf`` returns the stored bytes when they
exist and otherwise renders and inserts them: the first insert wins (unique number), so every later
download is the same bytes with the same SHA-256, whatever WeasyPrint or the fonts do later.
Rendering runs in ``billing.render_document_pdfs`` after issue, one task per chunk; the download
falls back to it only for a document whose task has not run yet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from billing.statements.compute import StatementData
from billing.statements.models import CreditNote, DocumentKind, DocumentPdf, Statement
from config import clock


def _quantity(value: Decimal | str | None) -> str:
    if value is None or value == "":
        return ""
    q = Decimal(value)
    return str(int(q)) if q == q.to_integral_value() else str(q.normalize())


def _parsed_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _display_line(ln: Any, position: int) -> dict[str, Any]:
    """A line as the documents show it: quantities without trailing zeros, details with datetimes
    (the template shows them in TALLY_TIME_ZONE) and a compact label."""
    details = []
    for d in ln.details:
        label = " · ".join(str(p) for p in (d.get("instance"), d.get("component"), d.get("usage_kind")) if p)
        details.append(
            {
                "label": label,
                "start": _parsed_time(d.get("period_start")),
                "end": _parsed_time(d.get("period_end")),
                "records": d.get("records") or 0,
                "quantity": _quantity(d.get("quantity")),
                "unit_price": d.get("unit_price"),
                "amount": d.get("amount"),
            }
        )
    return {
        "position": position,
        "kind": ln.kind,
        "description": ln.description,
        "entry_count": ln.entry_count,
        "first_at": ln.first_at,
        "last_at": ln.last_at,
        "quantity": _quantity(ln.quantity),
        "unit_price": ln.unit_price,
        "amount": ln.amount,
        "negative": ln.amount < 0,
        "details": details,
    }


def _base_context() -> dict[str, Any]:
    return {"tz": settings.TALLY_TIME_ZONE}


def _statement_context(statement: Statement | None, data: StatementData | None = None) -> dict[str, Any]:
    if statement is not None:
        lines = [_display_line(ln, ln.position) for ln in statement.lines.order_by("position")]
        corrections = list(statement.corrections.order_by("sequence"))
        return {**_base_context(), "s": statement, "lines": lines, "draft": False, "corrections": corrections}
    assert data is not None
    draft = {
        "number": "DRAFT",
        "namespace": data.namespace,
        "currency": data.currency,
        "period": data.period.month,
        "period_start": data.period.start,
        "period_end": data.period.end,
        "opening_balance": data.opening_balance,
        "total_recharges": data.total("recharge"),
        "total_charges": data.total("charge"),
        "total_refunds": data.total("refund"),
        "total_adjustments": data.total("adjustment"),
        "closing_balance": data.closing_balance,
        "entry_count": data.entry_count,
        "free_quota": data.free_quota,
        "credit_notes": data.credit_notes,
        "issued_at": clock.now(),
    }
    lines = [_display_line(ln, i) for i, ln in enumerate(data.lines, start=1)]
    return {**_base_context(), "s": draft, "lines": lines, "draft": True, "corrections": []}


def statement_html(statement: Statement) -> str:
    return render_to_string("billing/statement.html", _statement_context(statement))


def draft_html(data: StatementData) -> str:
    return render_to_string("billing/statement.html", _statement_context(None, data))


def credit_note_html(note: CreditNote) -> str:
    lines = list(note.lines.order_by("position"))
    context = {**_base_context(), "n": note, "lines": lines, "statement": note.statement}
    return render_to_string("billing/credit_note.html", context)


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML  # imported here: a heavy import only PDF work needs

    return bytes(HTML(string=html, base_url=None).write_pdf())


def _render(number: str) -> tuple[str, bytes]:
    statement = Statement.objects.filter(number=number).select_related("account").first()
    if statement is not None:
        return DocumentKind.STATEMENT, html_to_pdf(statement_html(statement))
    note = CreditNote.objects.select_related("statement").get(number=number)
    return DocumentKind.CREDIT_NOTE, html_to_pdf(credit_note_html(note))


def document_pdf(number: str) -> DocumentPdf:
    """The stored PDF of a statement or credit note, rendered and stored first if it is not yet."""
    stored = DocumentPdf.objects.filter(number=number).first()
    if stored is not None:
        return stored
    kind, content = _render(number)
    try:
        with transaction.atomic():
            return DocumentPdf.objects.create(
                number=number,
                kind=kind,
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                size=len(content),
                rendered_at=clock.now(),
            )
    except IntegrityError:  # rendered concurrently: the stored one is the document
        return DocumentPdf.objects.get(number=number)


def documents_render(*, numbers: Sequence[str]) -> int:
    """Render and store the PDFs of ``numbers`` that have none yet; returns how many were rendered."""
    have = set(DocumentPdf.objects.filter(number__in=list(numbers)).values_list("number", flat=True))
    rendered = 0
    for number in numbers:
        if number not in have:
            document_pdf(number)
            rendered += 1
    return rendered


def pdf_bytes(doc: DocumentPdf) -> bytes:
    return bytes(doc.content)
