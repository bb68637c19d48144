from __future__ import annotations

from typing import Any


def load(out: Any) -> None:
    """Demo orders of this family (idempotent)."""
