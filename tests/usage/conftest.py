from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _tasks_eager(_celery_eager: Any) -> None:
    """Make sure the (finalized) Celery app runs our tasks inline."""
    from orders.purchase.tasks import notify

    conf = notify.app.conf
    # With the "CELERY" namespace the prefixed key wins over the plain one, so set both.
    conf.task_always_eager = conf.CELERY_TASK_ALWAYS_EAGER = True
    conf.task_eager_propagates = conf.CELERY_TASK_EAGER_PROPAGATES = True
