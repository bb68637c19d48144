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


@pytest.fixture
def sent(monkeypatch: Any, settings: Any) -> list[dict[str, Any]]:
    """Notifications as they would be POSTed to ``NOTIFY_URL`` (after commit, through the tasks)."""
    settings.NOTIFY_URL = "http://notify.invalid/hook"
    out: list[dict[str, Any]] = []

    def fake_send(*, payload: dict[str, Any]) -> bool:
        out.append(payload)
        return True

    monkeypatch.setattr("orders.purchase.notify.notify_send", fake_send)
    return out
