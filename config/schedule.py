"""One beat entry per kind of periodic job, collected from the apps' ``schedule`` modules."""

from __future__ import annotations

import importlib
from typing import Any

APPS_WITH_SCHEDULES = ("plans", "billing", "usage", "orders")


def beat_schedule() -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    for app_label in APPS_WITH_SCHEDULES:
        try:
            module = importlib.import_module(f"{app_label}.schedule")
        except ModuleNotFoundError:
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    return schedule
