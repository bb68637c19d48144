"""The ``/healthz`` checks that need this app's rows or the migration graph."""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from ops.models import WorkerHeartbeat


def check_worker() -> tuple[bool, dict[str, Any]]:
    """Did any worker answer the heartbeat within ``TALLY_HEARTBEAT_STALE_SECONDS``?"""
    last = WorkerHeartbeat.objects.order_by("-answered_at").values_list("hostname", "answered_at").first()
    limit = settings.TALLY_HEARTBEAT_STALE_SECONDS
    if last is None:
        return False, {"detail": "no worker has answered yet", "stale_after_seconds": limit}
    hostname, answered_at = last
    age = (timezone.now() - answered_at).total_seconds()
    detail = {"hostname": hostname, "seconds_since_answer": round(age, 1), "stale_after_seconds": limit}
    return age <= limit, detail


class _MigrationState:
    """Once every migration on disk is applied, that stays true for this process (its code and
    migration files are fixed); until then the graph is read again at most every few seconds."""

    RECHECK_SECONDS = 5.0

    def __init__(self) -> None:
        self.all_applied = False
        self.pending: list[str] = []
        self.checked_at = 0.0
        self.lock = threading.Lock()

    def read(self) -> tuple[bool, list[str]]:
        with self.lock:
            if not self.all_applied and time.monotonic() - self.checked_at >= self.RECHECK_SECONDS:
                executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
                plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
                self.pending = [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
                self.all_applied = not self.pending
                self.checked_at = time.monotonic()
            return self.all_applied, list(self.pending)


_migrations = _MigrationState()


def check_migrations() -> tuple[bool, dict[str, Any]]:
    applied, pending = _migrations.read()
    return applied, {"pending": pending}
