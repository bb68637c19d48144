"""Helpers of the simulator's tests."""

from __future__ import annotations

from django.db import connection


def subprocess_db_url() -> str | None:
    """Where a worker process can reach the test database (None for SQLite's in-memory one)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        name = str(s["NAME"])
        return None if "memory" in name or name == ":memory:" else f"sqlite:///{name}"
    auth = s["USER"] or "root"
    if s["PASSWORD"]:
        auth += f":{s['PASSWORD']}"
    return f"mysql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{s['NAME']}"
