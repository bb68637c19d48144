"""Demo data of this app for `manage.py load_demo` (idempotent)."""

from __future__ import annotations

from typing import Any


def load(out: Any) -> None:
    """Nothing yet."""
