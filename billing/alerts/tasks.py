"""The evaluator's beat task (thin: one service)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from config.clock import parse_moment


@shared_task(name="billing.evaluate_balance_alerts", ignore_result=True)
def evaluate_balance_alerts(at: str | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Notify accounts that crossed under a balance or runway threshold; re-arm the recovered.
    Safe to run twice or concurrently (state rows, SKIP LOCKED)."""
    from billing.alerts.services import balance_alerts_evaluate

    return balance_alerts_evaluate(at=parse_moment(at), chunk_size=chunk_size).as_dict()
