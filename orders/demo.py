"""Demo orders for ``manage.py load_demo`` (idempotent), one module per order family."""

from __future__ import annotations

from typing import Any

from orders.package import demo as package
from orders.purchase import demo as purchase
from orders.vehicle import demo as vehicle


def load(out: Any) -> None:
    for family in (purchase, package, vehicle):
        family.load(out)
