"""``manage.py simulate --seed N [--seeds COUNT] --accounts K --months M [--faults]``: the billing
simulator (docs/reliability.md) on a scratch database of its own.

The configured database is never touched: the command creates ``<NAME>_simulate`` (MariaDB/MySQL)
or ``var/simulate.sqlite3`` (SQLite), migrates it, empties it before every seed and drops it at the
end (``--keepdb`` keeps it for inspection). Exit status 1 when a seed fails; the failure names the
seed, the step, the invariant and a replay command (``--shrink`` first looks for a shorter one).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from orders.simulation import SimConfig, run, shrink
from orders.simulation.runner import SimResult


def scratch_db_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    auth = s["USER"] or "root"
    if s["PASSWORD"]:
        auth += f":{s['PASSWORD']}"
    return f"mysql://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 3306}/{s['NAME']}"


def reset_database() -> None:
    """Empty every table (content types and permissions come back through post_migrate)."""
    call_command("flush", interactive=False, verbosity=0)


class Command(BaseCommand):
    help = (
        "Run the billing simulator: seeded random use, faults and clock jumps, invariants after every step."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=1, help="the first seed (default 1)")
        parser.add_argument("--seeds", type=int, default=1, help="how many seeds from --seed on")
        parser.add_argument("--accounts", type=int, default=3)
        parser.add_argument("--months", type=int, default=2, help="simulated months per seed")
        parser.add_argument(
            "--faults", action="store_true", help="kill workers, inject DB faults, lose messages"
        )
        parser.add_argument(
            "--ops-per-month", type=int, default=60, help="customer and staff steps per month"
        )
        parser.add_argument("--time-zone", default="America/New_York", help="TALLY_TIME_ZONE of the run")
        parser.add_argument("--steps", type=int, help="replay only the first N steps")
        parser.add_argument("--keep", help="replay only these steps (comma-separated indices)")
        parser.add_argument("--strict", action="store_true", help="known open invariants fail too")
        parser.add_argument("--shrink", action="store_true", help="on a failure, look for a shorter schedule")
        parser.add_argument("--threads", choices=["auto", "on", "off"], default="auto")
        parser.add_argument("--keepdb", action="store_true", help="keep the scratch database afterwards")
        parser.add_argument("--json", action="store_true", help="one JSON line of figures per seed")

    def handle(self, *args: Any, **o: Any) -> None:
        if o["accounts"] < 1 or o["months"] < 1 or o["seeds"] < 1:
            raise CommandError("--accounts, --months and --seeds must be >= 1")
        keep = frozenset(int(i) for i in o["keep"].split(",")) if o["keep"] else None
        base = SimConfig(
            seed=o["seed"],
            accounts=o["accounts"],
            months=o["months"],
            faults=o["faults"],
            ops_per_month=o["ops_per_month"],
            time_zone=o["time_zone"],
            threads={"auto": None, "on": True, "off": False}[o["threads"]],
            steps=o["steps"],
            keep=keep,
            strict=o["strict"],
        )
        db = settings.DATABASES["default"]
        test = db.setdefault("TEST", {})
        test["NAME"] = (
            str(settings.VAR_DIR / "simulate.sqlite3")
            if connection.vendor == "sqlite"
            else f"{db['NAME']}_simulate"
        )
        old_name = connection.creation.create_test_db(
            verbosity=0, autoclobber=True, serialize=False, keepdb=o["keepdb"]
        )
        failed = 0
        totals: dict[str, float] = {"steps": 0, "days": 0, "checks": 0, "seconds": 0}
        started = time.monotonic()
        try:
            for seed in range(o["seed"], o["seed"] + o["seeds"]):
                reset_database()
                config = replace(base, seed=seed, subprocess_db_url=scratch_db_url())
                result = run(config)
                self._report(result, as_json=o["json"])
                totals["steps"] += result.steps
                totals["days"] += result.simulated_days
                totals["checks"] += result.invariant_checks
                totals["seconds"] += result.seconds
                if result.failure is not None:
                    failed += 1
                    if o["shrink"]:
                        kept, attempts = shrink(result.failure, reset=reset_database)
                        total = result.failure.op.index + 1
                        self.stderr.write(
                            f"shrunk to {len(kept)} of {total} steps in {attempts} runs:\n"
                            f"  replay: {result.failure.replay(kept)}"
                        )
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=o["keepdb"])
        wall = time.monotonic() - started
        self.stdout.write(
            f"{o['seeds']} seed(s), {failed} failed: {int(totals['steps'])} steps, "
            f"{totals['days'] / 30.44:.1f} simulated months, {int(totals['checks'])} invariant checks, "
            f"{wall:.0f}s wall time"
        )
        if failed:
            raise CommandError(f"{failed} seed(s) failed", returncode=1)

    def _report(self, result: SimResult, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "seed": result.config.seed,
                        "steps": result.steps,
                        "simulated_days": round(result.simulated_days, 2),
                        "invariant_checks": result.invariant_checks,
                        "seconds": round(result.seconds, 2),
                        "counters": dict(result.counters),
                        "known_open": sorted({f[1][0] for f in result.known}),
                        "failed": None if result.failure is None else result.failure.invariant,
                    }
                )
            )
        else:
            self.stdout.write(result.summary())
        if result.failure is not None:
            self.stderr.write(result.failure.report())
