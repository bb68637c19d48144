"""``manage.py simulate`` as an operator runs it: its own scratch database, figures, exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def simulate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TALLY_VAR_DIR=str(tmp_path), TALLY_TESTING="1", LOG_LEVEL="WARNING")
    if "DATABASE_URL" in env and "mysql" not in env["DATABASE_URL"]:
        env.pop("DATABASE_URL")
    return subprocess.run(
        [sys.executable, "manage.py", "simulate", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_simulate_runs_seeds_on_a_scratch_database_and_prints_figures(tmp_path: Path) -> None:
    done = simulate(tmp_path, "--seed", "3", "--seeds", "2", "--months", "1", "--accounts", "2",
                    "--ops-per-month", "12", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    seeds = [json.loads(line) for line in lines[:-1]]
    assert [s["seed"] for s in seeds] == [3, 4]
    assert all(s["failed"] is None and s["steps"] > 30 and s["invariant_checks"] > 400 for s in seeds)
    assert lines[-1].startswith("2 seed(s), 0 failed: ")
    assert "invariant checks" in lines[-1] and "simulated months" in lines[-1]
    if "DATABASE_URL" not in os.environ:
        assert not (tmp_path / "simulate.sqlite3").exists()  # dropped at the end
        assert not (tmp_path / "tally.sqlite3").exists() or (tmp_path / "tally.sqlite3").stat().st_size == 0


def test_simulate_refuses_nonsense(tmp_path: Path) -> None:
    done = simulate(tmp_path, "--months", "0")
    assert done.returncode != 0 and "must be >= 1" in done.stderr
