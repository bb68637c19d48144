"""Demo catalog for `manage.py load_demo` (idempotent): imports ``demo_catalog.json``.

Volume and bsi plans in two regions, resources plans (postpaid and hourly), the ``ecs`` product
with hourly/prepaid/postpaid components and its ``ecs-std`` rules, and two vehicle plans whose
items have fixed UUIDs (uuid5 of their names) so other apps' demo orders can refer to them, and
three promotions (``WELCOME10``, ``ECS20``, ``CAR50`` whose ``pmid`` is ``demo_pmid("CAR50")``).
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from plans.catalog import catalog_import

DEMO_CATALOG = Path(__file__).with_name("demo_catalog.json")


def demo_piid(name: str) -> uuid.UUID:
    """The fixed ``piid`` of a demo plan item, e.g. ``demo_piid("car-basic/liability")``
    (items: car-basic/liability, theft, glass; car-plus/liability, damage, roadside)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://tally.example/plan-items/{name}")


def demo_pmid(code: str) -> uuid.UUID:
    """The fixed ``pmid`` of a demo promotion (``CAR50``)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"https://tally.example/promotions/{code}")


def demo_document() -> dict[str, Any]:
    with DEMO_CATALOG.open(encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh, parse_float=Decimal)
    return doc


def load(out: Any) -> None:
    """Upsert the demo catalog; plans and services it does not name are left alone."""
    report = catalog_import(demo_document(), force=True, retire_missing=False)
    out.write(f"plans: demo catalog loaded: {report.summary()}\n")
