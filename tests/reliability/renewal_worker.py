"""A worker process for R4: runs the renewal service for one moment until nothing is due.

``python -m tests.reliability.renewal_worker <at ISO> [chunk]``. Environment: ``DATABASE_URL`` of
the test database. It prints one line per run so the test can see progress.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("TALLY_TESTING", "1")
    import django

    django.setup()
    from orders.purchase.renewal import due_lines, renewal_run

    at = datetime.fromisoformat(sys.argv[1])
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    for attempt in range(200):
        summary = renewal_run(at=at, chunk_size=chunk)
        print(f"run {attempt}: renewed {summary.renewed} skipped {summary.skipped}", flush=True)
        if not due_lines(at=at).exists():
            return 0
        if summary.renewed == 0:
            time.sleep(0.05)
    return 1


if __name__ == "__main__":
    sys.exit(main())
