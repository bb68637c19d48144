"""The serving process freezes its startup objects (``config.startup``), so a full garbage
collection inside a request walks only what requests created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, time
import config.wsgi
frozen = gc.get_freeze_count()
t0 = time.perf_counter(); gc.collect(); after = time.perf_counter() - t0
gc.unfreeze()
t0 = time.perf_counter(); gc.collect(); before = time.perf_counter() - t0
print(frozen, after, before)
"""


def test_the_wsgi_module_freezes_what_it_loaded() -> None:
    env = {**os.environ, "TALLY_TESTING": "1", "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    frozen, after, before = out.stdout.split()
    assert int(frozen) > 50_000  # Django, DRF and every view module
    assert float(after) < float(before)  # a full collection no longer walks them
