"""Celery tasks of the usage app (thin: ids in, one service call, safe to run twice)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from config.clock import parse_moment
from usage.services import arrears_settle, arrears_sweep


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
