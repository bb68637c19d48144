"""Send a Celery task by name once the current transaction commits (ARCHITECTURE.md: a lower
layer triggers work above it by name, never by import).

There is no "is it registered?" check: the web process never imports the task modules of other
apps (Celery discovers them only in workers), so such a guard silently skips the side effect in
exactly the process that needs it (issue 15). ``Signature.apply_async`` runs a task this process
knows through its own ``apply_async`` (inline under ``task_always_eager`` in tests) and publishes
any other by name. A send that fails is logged as an error with the task and its arguments; the
work it stood for must have a periodic sweep that repairs a lost message (for arrears:
``usage.settle_arrears_sweep``).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from celery import current_app
from django.db import transaction

logger = logging.getLogger("tally.enqueue")


def enqueue_on_commit(task_name: str, /, **kwargs: Any) -> None:
    """Send ``task_name`` with ``kwargs`` after the outermost transaction commits (at once when
    there is none); nothing is sent if it rolls back."""
    transaction.on_commit(partial(send_task, task_name, kwargs))


def send_task(task_name: str, kwargs: dict[str, Any]) -> bool:
    """Send now; True if the broker took it. A failure is logged (never raised: the write that
    asked for it has committed and must not be reported as failed)."""
    try:
        current_app.signature(task_name, kwargs=kwargs).apply_async()
    except Exception:  # noqa: BLE001 - any broker error; logged, repaired by the task's sweep
        logger.exception("could not send task %s %s; its periodic sweep will repair it", task_name, kwargs)
        return False
    return True
