"""Beat entries for package orders: one per kind of periodic job (not one per billing job)."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "orders-run-billing-jobs": {
        "task": "orders.run_billing_jobs",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
    "orders-package-auto-renew": {
        "task": "orders.package_auto_renew",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 250},
    },
}
