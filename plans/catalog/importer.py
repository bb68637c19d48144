"""``catalog_import``: parse, check against the database, apply, all in one transaction that
first locks every plan row, so imports run one after another (docs/plans.md "Concurrent imports")."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction

from config import clock
from config.db import is_deadlock
from plans.catalog.apply import apply_document
from plans.catalog.checks import check_against_db
from plans.catalog.document import CatalogDocument, ImportReport
from plans.catalog.parse import parse_document
from plans.errors import CatalogInvalid
from plans.models import Plan

logger = logging.getLogger(__name__)

IMPORT_ATTEMPTS = 3


def catalog_import(
    document: Any,
    *,
    dry_run: bool = False,
    force: bool = False,
    retire_missing: bool = True,
    now: datetime | None = None,
) -> ImportReport:
    """Validate the whole document, then upsert it (docs/plans.md "Import is all-or-nothing").

    Plans missing from the document are retired, never deleted (orders refer to them). Used price
    versions and rules are never edited. Unused versions starting in the future that the document
    no longer lists are withdrawn. With ``dry_run`` everything runs and is rolled back, so the
    report is exactly what a real run would do. 3607 (nothing changed) if the document is invalid.
    """
    now = now or clock.now()
    doc, errors = parse_document(document)
    if doc is None:
        raise CatalogInvalid.from_errors(errors)
    if connection.in_atomic_block:  # the caller owns the transaction: no retry possible here
        return _import_once(doc, dry_run=dry_run, force=force, retire_missing=retire_missing, now=now)
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        try:
            return _import_once(doc, dry_run=dry_run, force=force, retire_missing=retire_missing, now=now)
        except (IntegrityError, OperationalError) as exc:
            # Two first imports into an empty catalog have no plan rows to lock: the loser hits a
            # unique key (or a deadlock on MariaDB). Its transaction is gone; run it again on the
            # winner's rows.
            retryable = isinstance(exc, IntegrityError) or is_deadlock(exc)
            if not retryable or attempt == IMPORT_ATTEMPTS:
                raise
            logger.warning("catalog import collided with another import (%s), retry %d", exc, attempt)
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def _import_once(
    doc: CatalogDocument, *, dry_run: bool, force: bool, retire_missing: bool, now: datetime
) -> ImportReport:
    with transaction.atomic():
        # Serialize imports: one sync at a time decides what disappeared.
        list(Plan.objects.select_for_update().order_by("pk").values_list("pk", flat=True))
        errors = check_against_db(doc, now=now, force=force, retire_missing=retire_missing)
        if errors:
            raise CatalogInvalid.from_errors(errors)
        report = apply_document(doc, now=now, dry_run=dry_run, retire_missing=retire_missing)
        if dry_run:
            transaction.set_rollback(True)
    logger.info("catalog import%s: %s", " (dry run)" if dry_run else "", report.summary())
    return report
