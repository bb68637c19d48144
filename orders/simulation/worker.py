"""A worker process for the simulator's "worker killed in the middle of a task" fault.

``python -m orders.simulation.worker TASK_NAME AT_ISO``: runs the periodic task ``TASK_NAME`` as a
Celery worker would (``task.apply``), with the simulated clock at ``AT_ISO``, against
``DATABASE_URL``. The simulator SIGKILLs it partway through; acks_late means the message is
delivered again, which the simulator does in-process.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import importlib

    from config.celery import app

    for label in ("plans", "billing", "usage", "orders"):  # what a worker imports at start
        importlib.import_module(f"{label}.tasks")
    from orders.simulation.world import SimClock

    name, at = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    app.conf.task_always_eager = True
    with SimClock(at).installed():
        result = app.tasks[name].apply()
    return 1 if result.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
