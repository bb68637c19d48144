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


def sequence_ensure(*, kind: str, year: int) -> None:
    """Create the counter row if it is missing, in its own short statement, *before* the issuing
    transaction: two issuers that both inserted it inside their transactions would each keep the
    shared lock of the duplicate-key check and deadlock on the ``FOR UPDATE`` that follows."""
    if DocumentSequence.objects.filter(kind=kind, year=year).exists():
        return
    try:
        with transaction.atomic():
            DocumentSequence.objects.create(kind=kind, year=year, last=0)
    except IntegrityError:  # created concurrently
        pass


def sequence_lock(*, kind: str, year: int) -> DocumentSequence:
    """The counter row (``sequence_ensure`` made it), locked until the caller's transaction ends."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("document numbers are allocated inside the issuing transaction")
    return DocumentSequence.objects.select_for_update().get(kind=kind, year=year)


def numbers_allocate(*, row: DocumentSequence, count: int) -> list[int]:
    """The next ``count`` sequence values of a row locked by ``sequence_lock``."""
    first = row.last + 1
    row.last += count
    DocumentSequence.objects.filter(pk=row.pk).update(last=row.last)
    return list(range(first, first + count))
