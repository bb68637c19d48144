"""Celery tasks of the usage app (thin: ids in, one service call, safe to run twice)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from config.clock import parse_moment
from usage.audit import audit_run_record
from usage.services import arrears_settle, arrears_sweep

logger = logging.getLogger(__name__)


@shared_task(name="usage.settle_arrears", acks_late=True)
def settle_arrears(account_id: int) -> dict[str, Any]:
    """Enqueued by name by the billing app after every credit."""
    result = arrears_settle(account_id=account_id)
    return {"settled": result.settled, "amount": str(result.amount), "remaining": result.remaining}


@shared_task(name="usage.settle_arrears_sweep", acks_late=True)
def settle_arrears_sweep(at: str | None = None) -> dict[str, Any]:
    """Beat: settle every account that can pay its oldest arrears (repairs a lost message)."""
    result = arrears_sweep(at=parse_moment(at))
    return {"accounts": result.accounts, "settled": result.settled, "amount": str(result.amount)}


@shared_task(name="usage.audit_ledger")
def audit_ledger(at: str | None = None) -> dict[str, Any]:
    """Nightly: run the ledger audit over every account and record the result (``AuditRun``)."""
    run, _ = audit_run_record(source="beat", at=parse_moment(at))
    if not run.ok:
        logger.error("ledger audit found %d finding(s): %s", run.findings, run.counts)
    return {"findings": run.findings, "entries": run.entries}
