"""Celery tasks of the usage app (thin: ids in, one service call, safe to run twice)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from usage.services import arrears_settle


@shared_task(name="usage.settle_arrears", acks_late=True)
def settle_arrears(account_id: int) -> dict[str, Any]:
    """Enqueued by name by the billing app after a recharge credit."""
    result = arrears_settle(account_id=account_id)
    return {"settled": result.settled, "amount": str(result.amount), "remaining": result.remaining}
