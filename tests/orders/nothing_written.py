"""``nothing_written()``: assert that a block wrote nothing at all (the contract of a preview).

Every row of every model is read before and after (test databases are small), so an insert, an
update (a balance, a ``first_used_at`` stamp, an ``updated_at``), a delete, a stored
``Idempotency-Key`` or a moved order-number counter all show up; ``on_commit`` callbacks (where
tasks and notifications are enqueued) are captured and must be none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.test import TestCase


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


@contextmanager
def nothing_written() -> Iterator[None]:
    before = snapshot()
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        yield
    after = snapshot()
    changed = sorted(label for label in before if before[label] != after[label])
    assert not changed, f"a preview wrote to {changed}"
    assert callbacks == [], f"a preview enqueued {len(callbacks)} on_commit callback(s)"
