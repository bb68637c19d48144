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


def test_a_celery_worker_freezes_what_it_loaded_before_it_takes_tasks(tmp_path: Path) -> None:
    """A real worker, as ``make run`` starts one (filesystem broker in a temporary var/): its log
    says how many objects it froze, before it says it is ready."""
    env = {**os.environ, "TALLY_TESTING": "1", "TALLY_VAR_DIR": str(tmp_path)}
    env.pop("CELERY_BROKER_URL", None)  # the filesystem broker under tmp_path: no shared queue
    argv = [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--loglevel", "INFO"]
    worker = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    try:
        assert worker.stdout is not None
        for line in worker.stdout:
            lines.append(line)
            if " ready." in line:
                break
    finally:
        worker.kill()
        worker.wait(timeout=30)
    froze = [line for line in lines if "froze" in line]
    assert froze, "".join(lines[-20:])
    assert int(froze[0].split("froze ")[1].split()[0]) > 50_000
    assert " ready." in lines[-1]  # the freeze came first
