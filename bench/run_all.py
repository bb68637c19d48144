"""``make bench``: run B1-B9 (docs/benchmarks.md) at ``BENCH_SCALE`` (small by default) on MariaDB.

Each benchmark runs in its own process (clean memory figures, no state shared between them) on a
freshly created bench database. Without a reachable MariaDB every benchmark prints a SKIP line and
this exits 0. A benchmark that crashes, or whose correctness checks fail (errors, balance != ledger
sum, double billing), makes this exit non-zero; a missed *speed* target does not (benchmarks are
not timed tests; the figures go to docs/benchmarks.md).

Options (environment): ``BENCH_ONLY=B2,B3`` runs a subset; ``BENCH_<ID>_SIZE=N`` overrides a size;
``BENCH_DATABASE_URL`` names the database (default: ``tally_bench`` on DATABASE_URL's server).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.common import ROOT, SCALE, bench_db_url, bench_env, mariadb_unavailable_reason, prepare_database

BENCHMARKS = [
    ("B1", "bench.b1_billing_run"),
    ("B2", "bench.b2_charge_api"),
    ("B2b", "bench.b2b_batch_deduct"),
    ("B3", "bench.b3_report"),
    ("B4", "bench.b4_metering"),
    ("B5", "bench.b5_order_list"),
    ("B6", "bench.b6_statements"),
    ("B7", "bench.b7_record_lists"),
    ("B8", "bench.b8_admin_lists"),
    ("B9", "bench.b9_ledger_audit"),
]
TIMEOUT = {"small": 240, "medium": 1800, "full": 3 * 3600}


def main() -> int:
    only = {b.strip().upper() for b in os.environ.get("BENCH_ONLY", "").split(",") if b.strip()}
    selected = [(b, m) for b, m in BENCHMARKS if not only or b.upper() in only]
    url = bench_db_url()
    print(f"bench: scale={SCALE} database={url.split('@')[-1]} python={sys.version.split()[0]}", flush=True)
    reason = mariadb_unavailable_reason(url)
    if reason:
        for bench_id, _ in selected:
            print(f"{bench_id} SKIP: {reason}", flush=True)
        return 0
    t0 = time.monotonic()
    prepare_database(fresh=os.environ.get("BENCH_FRESH_DB", "1") != "0")
    failures: list[str] = []
    for bench_id, module in selected:
        started = time.monotonic()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", module],
                cwd=ROOT,
                env=bench_env({"BENCH_DB_READY": "1"}),
                timeout=TIMEOUT.get(SCALE, 600),
                check=False,
            )
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"{bench_id} FAILED: timed out after {TIMEOUT.get(SCALE, 600)} s", flush=True)
        if code != 0:
            failures.append(f"{bench_id} (exit {code})")
            print(f"{bench_id} FAILED: exit code {code}", flush=True)
        print(f"{bench_id} took {time.monotonic() - started:.1f} s", flush=True)
    print(
        f"bench: done in {time.monotonic() - t0:.1f} s; failures: {', '.join(failures) or 'none'}", flush=True
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
