"""Fault injection, installed only by the simulator (never by the application).

- ``db_fault_hook``: a ``connection.execute_wrapper`` that, while a fault window is open, fails a
  random statement as MariaDB would: a deadlock (1213; InnoDB has rolled the transaction back) or a
  lost connection (2013; on MariaDB the connection is really killed first, so Django's rollback
  fails and it drops the connection, as with a real network cut).
- ``kill_worker``: a real OS process running ``manage.py run_billing --at T`` (or one periodic task
  through ``python -m orders.simulation.worker``) against the same database, SIGKILLed after a
  delay; what it committed stays, its open transaction dies with its connection.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from random import Random
from typing import Any, Protocol

from django.db import OperationalError, connection

ROOT = Path(__file__).resolve().parents[2]
DEADLOCK = (1213, "Deadlock found when trying to get lock; try restarting transaction (simulated)")
LOST = (2013, "Lost connection to server during query (simulated)")


@dataclass
class FaultState:
    """The DB fault window currently open (``db_fault_window`` steps) and what it did."""

    ops_left: int = 0
    rate: float = 0.0
    kind: str = "deadlock"
    injected: int = 0
    limit: int | None = None  # at most this many faults (tests)


class FaultTarget(Protocol):
    """What the DB fault hook reads and marks on the simulation's context (``context.Ctx``)."""

    faults: FaultState
    rng: Random
    counters: Counter[str]
    fault_in_step: bool


@contextmanager
def db_fault_hook(ctx: FaultTarget) -> Iterator[None]:
    state = ctx.faults
    if state.ops_left <= 0:
        yield
        return

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        head = sql.lstrip()[:8].upper()
        # Only inside a transaction (where a real deadlock can strike) and not on SAVEPOINT
        # bookkeeping, which the driver issues outside the application's control.
        room = state.limit is None or state.injected < state.limit
        if (
            room
            and connection.in_atomic_block
            and not head.startswith(("SAVEPOINT", "RELEASE"))
            and (ctx.rng.random() < state.rate)
        ):
            state.injected += 1
            ctx.fault_in_step = True
            ctx.counters[f"db_fault_{state.kind}"] += 1
            if state.kind == "lost_connection":
                _kill_own_connection()
                raise OperationalError(*LOST)
            raise OperationalError(*DEADLOCK)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield


def _kill_own_connection() -> None:
    if connection.vendor != "mysql" or connection.connection is None:
        return
    raw = connection.connection
    try:
        with raw.cursor() as cursor:
            cursor.execute(f"KILL {int(raw.thread_id())}")
    except Exception:  # noqa: BLE001, S110 - the KILL itself ends with "connection killed"
        pass


def reconnect_if_broken() -> None:
    """After a faulted step: a killed connection is dropped so the next query reconnects."""
    if connection.in_atomic_block:
        return
    if connection.connection is not None and not connection.is_usable():
        connection.close()


def worker_env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": db_url,
            "CELERY_BROKER_URL": "memory://",  # its messages go nowhere: the sweeps must cope
            "TALLY_TESTING": "1",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "ERROR",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    from django.conf import settings

    env["TALLY_TIME_ZONE"] = settings.TALLY_TIME_ZONE
    return env


def kill_worker(*, db_url: str, target: str, at: datetime, delay_s: float) -> dict[str, Any]:
    """Start the worker, SIGKILL it after ``delay_s`` (if it is still running); report how it ended."""
    if target == "run_billing":
        argv = [sys.executable, str(ROOT / "manage.py"), "run_billing", "--at", at.isoformat()]
    else:
        argv = [sys.executable, "-m", "orders.simulation.worker", "orders.run_billing_jobs", at.isoformat()]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=worker_env(db_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    started = time.monotonic()
    try:
        proc.wait(timeout=delay_s)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        killed = True
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    return {
        "killed": killed,
        "returncode": proc.returncode,
        "seconds": round(time.monotonic() - started, 2),
        "stderr": err[-2000:],
    }
