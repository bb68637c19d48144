"""Settings of the benchmark server: the project's settings plus a bench-only URLconf.

The only addition is the trivial authenticated endpoint B2 compares ``deduct-quota`` with; no app
code changes for it.
"""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# Throttling stays on (B2 measures its cost) at rates the load generator never reaches.
TALLY_THROTTLE_RATES = {"user": "100000000/min", "anon": "100000000/min", "internal": "100000000/min"}
