"""Gap-free document numbers: ``TLY-2026-000123`` (statements), ``TLY-CN-2026-000007`` (credit notes).

``numbers_allocate`` locks the (kind, year) counter row ``FOR UPDATE`` in the caller's transaction
and moves it by ``count``: the numbers are consecutive, and if the caller's transaction rolls back
the counter rolls back with it, so a number is used exactly once or not at all. ``MAX()+1`` would
hand the same number to two concurrent issuers, and an AUTO_INCREMENT leaves gaps on rollback.
Every issuer holds this lock while it inserts its documents, which also makes it the place where
"already issued?" is answered without a race (``services``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from billing.statements.models import DocumentKind, DocumentSequence


def format_number(kind: str, year: int, sequence: int) -> str:
    prefix = settings.STATEMENT_NUMBER_PREFIX
    middle = "-CN" if kind == DocumentKind.CREDIT_NOTE else ""
    return f"{prefix}{middle}-{year}-{sequence:06d}"


def sequence_lock(*, kind: str, year: int) -> DocumentSequence:
    """The counter row, locked until the caller's transaction ends (created on first use)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document numbers are allocated inside the issuing transaction")
    row = DocumentSequence.objects.select_for_update().filter(kind=kind, year=year).first()
    if row is None:
        try:
            with transaction.atomic():
                DocumentSequence.objects.create(kind=kind, year=year, last=0)
        except IntegrityError:  # created concurrently; the lock below waits for that transaction
            pass
        row = DocumentSequence.objects.select_for_update().get(kind=kind, year=year)
    return row


def numbers_allocate(*, row: DocumentSequence, count: int) -> list[int]:
    """The next ``count`` sequence values of a row locked by ``sequence_lock``."""
    first = row.last + 1
    row.last += count
    DocumentSequence.objects.filter(pk=row.pk).update(last=row.last)
    return list(range(first, first + count))
