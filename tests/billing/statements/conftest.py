from __future__ import annotations

from typing import Any

import pytest

from config.celery import app as celery_app


@pytest.fixture(autouse=True)
def _all_tasks_registered(_celery_eager: Any) -> None:
    """Import every app's tasks module (as a worker does at start-up), so a task sent by name (billing
    sends ``orders.notify_batch`` without importing orders) runs eagerly here instead of being
    published to the broker."""
    celery_app.loader.import_default_modules()
