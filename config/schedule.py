"""Beat's schedule: one entry per periodic job of ``orders.jobs.JOBS``, the list
``manage.py run_billing`` runs from too (config/jobs.py)."""

from __future__ import annotations

from typing import Any


def beat_schedule() -> dict[str, dict[str, Any]]:
    from orders.jobs import beat_schedule as jobs_beat_schedule

    return jobs_beat_schedule()
