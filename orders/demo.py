"""Demo orders for ``manage.py load_demo`` (idempotent), one module per order family."""

from __future__ import annotations

from typing import Any

from orders.demos import package, purchase, vehicle


def load(out: Any) -> None:
    for family in (purchase, package, vehicle):
        family.load(out)
