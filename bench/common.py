"""Shared plumbing of the benchmarks: sizes, the bench database, timing, memory, the result line.

Every benchmark runs the project's code path and its baseline *in the same process run*, on the
same data, and prints one line (absolute numbers drift on shared machines, ratios hold: docs/benchmarks.md).
Results are also appended as JSON to ``var/bench/results.jsonl`` so docs/benchmarks.md can quote
exactly what a run printed.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "var" / "bench"
DEFAULT_DB_URL = "mysql://root@127.0.0.1:3306/tally_bench"

SCALE = os.environ.get("BENCH_SCALE", "small").strip().lower() or "small"
if SCALE not in ("small", "full", "medium"):
    raise SystemExit(f"BENCH_SCALE must be small, medium or full, not {SCALE!r}")

# the sizes of docs/benchmarks.md at "full"; "small" proves the path works in CI within seconds.
SIZES: dict[str, dict[str, int]] = {
    "B1": {"small": 200, "medium": 5_000, "full": 100_000},  # due subscriptions
    "B2": {"small": 5, "medium": 15, "full": 30},  # seconds per run
    "B2b": {"small": 5, "medium": 15, "full": 30},  # seconds per shape
    "B3": {"small": 20_000, "medium": 300_000, "full": 1_000_000},  # usage records
    "B4": {"small": 20_000, "medium": 200_000, "full": 1_000_000},  # meter events
    "B5": {"small": 3_000, "medium": 30_000, "full": 100_000},  # vehicle orders of one user
    "B6": {"small": 2_000, "medium": 20_000, "full": 100_000},  # accounts (10 ledger entries each)
    "B7": {"small": 3_000, "medium": 100_000, "full": 1_000_000},  # records of one account, each list
    "B8": {"small": 5_000, "medium": 100_000, "full": 1_000_000},  # rows of each admin list
    "B9": {"small": 20_000, "medium": 200_000, "full": 1_000_000},  # ledger entries
}


def size(bench_id: str) -> int:
    override = os.environ.get(f"BENCH_{bench_id}_SIZE")
    return int(override) if override else SIZES[bench_id][SCALE]


# --- database ----------------------------------------------------------------------------------


def bench_db_url() -> str:
    """The MariaDB database the benchmarks own (never the application's own database).

    ``BENCH_DATABASE_URL`` wins; otherwise the host and credentials of a ``mysql://``
    ``DATABASE_URL`` with the database name ``tally_bench``; otherwise the local default.
    """
    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        return explicit
    app_url = os.environ.get("DATABASE_URL", "")
    if app_url.startswith("mysql://"):
        parsed = urlparse(app_url)
        return parsed._replace(path="/tally_bench").geturl()
    return DEFAULT_DB_URL


def _connect_args(url: str, *, with_db: bool = True) -> dict[str, Any]:
    p = urlparse(url)
    args: dict[str, Any] = {
        "host": p.hostname or "127.0.0.1",
        "port": p.port or 3306,
        "user": p.username or "root",
        "passwd": p.password or "",
        "charset": "utf8mb4",
        "connect_timeout": 3,
    }
    if with_db:
        args["db"] = p.path.lstrip("/")
    return args


def raw_connect(url: str | None = None, *, with_db: bool = True) -> Any:
    """A raw MySQLdb connection (the baselines' driver), autocommit off."""
    import MySQLdb

    conn = MySQLdb.connect(**_connect_args(url or bench_db_url(), with_db=with_db))
    conn.autocommit(False)
    return conn


def mariadb_unavailable_reason(url: str | None = None) -> str | None:
    url = url or bench_db_url()
    if not url.startswith("mysql://"):
        return f"benchmarks run on MariaDB only; {url.split(':')[0]} given"
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        return "mysqlclient is not installed (pip install -e '.[mysql]')"
    try:
        conn = raw_connect(url, with_db=False)
        conn.close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "skip"
        return f"MariaDB not reachable at {urlparse(url).hostname}:{urlparse(url).port or 3306} ({exc})"
    return None


def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for Django processes of the benchmarks (server, workers, helpers)."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": bench_db_url(),
            "DJANGO_SETTINGS_MODULE": env.get("BENCH_SETTINGS_MODULE", "bench.settings"),
            "SECRET_KEY": env.get("SECRET_KEY") or "bench-only-secret-key",
            "PAYMENT_CALLBACK_SECRET": env.get("PAYMENT_CALLBACK_SECRET") or "bench-only-callback-secret",
            "SECURE_SSL_REDIRECT": "0",  # the bench server is plain HTTP on loopback
            "DEBUG": "0",
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.pop("TALLY_TESTING", None)
    if extra:
        env.update(extra)
    return env


def prepare_database(*, fresh: bool) -> None:
    """Create (or recreate) the bench database and migrate it."""
    url = bench_db_url()
    name = urlparse(url).path.lstrip("/")
    conn = raw_connect(url, with_db=False)
    try:
        cur = conn.cursor()
        if fresh:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(
            f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    finally:
        conn.close()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=bench_env(),
        check=True,
    )


def setup_django() -> None:
    """Point this process at the bench database and start Django (once)."""
    for key, value in bench_env().items():
        if key in (
            "DATABASE_URL",
            "DJANGO_SETTINGS_MODULE",
            "SECRET_KEY",
            "PAYMENT_CALLBACK_SECRET",
            "SECURE_SSL_REDIRECT",
            "DEBUG",
            "LOG_LEVEL",
        ):
            os.environ[key] = value
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def send_tasks(broker: str, name: str, count: int, kwargs: dict[str, Any] | None = None) -> None:
    """Send ``count`` tasks ``name`` to ``broker`` over a connection made for it. Celery's
    ``broker_url`` setting prefers the ``CELERY_BROKER_URL`` environment variable to the app's own
    ``Celery(broker=...)`` (celery 5.7), so a shell with ``CELERY_BROKER_URL`` set once sent B1's
    tasks to a broker no worker listened on, and the run waited for them."""
    from celery import Celery

    sender = Celery(set_as_current=False)
    with sender.connection_for_write(broker) as connection:
        for _ in range(count):
            sender.send_task(name, kwargs=kwargs or {}, connection=connection)


def bootstrap(bench_id: str) -> bool:
    """Common start of a benchmark script; False (after printing SKIP) when it cannot run."""
    reason = mariadb_unavailable_reason()
    if reason:
        print_skip(bench_id, reason)
        return False
    if not os.environ.get("BENCH_DB_READY"):
        prepare_database(fresh=False)
        os.environ["BENCH_DB_READY"] = "1"
    setup_django()
    return True


# --- measuring ---------------------------------------------------------------------------------


def rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def proc_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return 0.0


@dataclass
class Measure:
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # highest RSS of this process seen during the block
    delta_rss_mb: float = 0.0  # that peak minus the RSS just before the block


@contextmanager
def measured(interval: float = 0.01) -> Iterator[Measure]:
    """Wall time and peak RSS (sampled every ``interval`` s by a thread) of the block."""
    m = Measure()
    before = rss_mb()
    peak = [before]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    try:
        yield m
    finally:
        m.seconds = time.perf_counter() - t0
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], rss_mb())
        m.peak_rss_mb = peak[0]
        m.delta_rss_mb = peak[0] - before


def settle_writes(conn: Any, *, timeout: float = 60.0, dirty_pages: int = 200, stall: float = 5.0) -> str:
    """Wait until InnoDB has written back what a benchmark's bulk build left dirty in the buffer
    pool, and say how long that took: until at most ``dirty_pages`` are dirty, or the count has not
    fallen by a tenth for ``stall`` s (MariaDB keeps some dirty pages at rest), or ``timeout`` s.
    A list measured right after a million-row load otherwise shares the disk with that write-back,
    which no steady-state reader does (docs/benchmarks.md, B7)."""
    cur = conn.cursor()

    def dirty() -> int:
        cur.execute("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")
        row = cur.fetchone()
        return int(row[1]) if row else 0

    t0 = time.perf_counter()
    before = now = mark = dirty()
    marked = t0
    while now > dirty_pages and time.perf_counter() - t0 < timeout and time.perf_counter() - marked < stall:
        time.sleep(0.5)
        now = dirty()
        if now < 0.9 * mark:
            mark, marked = now, time.perf_counter()
    return f"write-back settled in {time.perf_counter() - t0:.1f} s ({before:,} -> {now:,} dirty pages)"


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def timed_calls(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


# --- reporting ---------------------------------------------------------------------------------


@dataclass
class Result:
    bench: str
    name: str
    size: str
    project_rate: str
    baseline_rate: str
    ratio: str
    latency: str = "-"
    peak_memory: str = "-"
    target: str = ""
    verdict: str = "n/a"  # MET / MISSED / n/a / FAILED
    notes: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    checks_ok: bool = True  # correctness checks (0 errors, balance == ledger): failing these fails CI

    def line(self) -> str:
        parts = [
            f"{self.bench} {self.name}",
            f"size {self.size}",
            f"project {self.project_rate}",
            f"baseline {self.baseline_rate}",
            f"ratio {self.ratio}",
            f"p50/p99 {self.latency}",
            f"peak mem {self.peak_memory}",
            f"target {self.target}: {self.verdict}",
        ]
        if self.notes:
            parts.append(self.notes)
        return " | ".join(parts)


def emit(result: Result) -> None:
    print(result.line(), flush=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    record = asdict(result) | {"scale": SCALE, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with open(RESULTS_DIR / "results.jsonl", "a") as fh:
        fh.write(json.dumps(record, default=str) + "\n")
    if not result.checks_ok:
        sys.exit(2)


def print_skip(bench_id: str, reason: str) -> None:
    print(f"{bench_id} SKIP: {reason}", flush=True)


def fmt_rate(n: float, unit: str) -> str:
    return f"{n:,.0f} {unit}/s" if n >= 100 else f"{n:,.1f} {unit}/s"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def chunks(seq: list[Any], n: int) -> Iterator[list[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]
