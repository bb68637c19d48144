"""B2: ``POST /internal/v1/billing/deduct-quota`` through gunicorn at 32 concurrent clients.

Project: deduct-quota, every call paid (the accounts' monthly free quota is used up beforehand, so
each call writes a quota usage row *and* a ledger entry: the expensive path), first over many
accounts, then with all clients on one account (maximum lock contention). Baseline: a trivial
token-authenticated DRF endpoint (``bench/urls.py``) on the same server at the same concurrency,
measured just before and just after each of the project's runs (each ratio uses the mean of its
two; both endpoints are warmed up first).
Then ``POST /internal/v1/billing/check-quota`` the same two ways: a read, answered from the cache
the deduct path keeps current (``billing.quota_cache``).
Targets (issue 21.2): deduct >= 0.7x the baseline's requests/s with p99 <= 1.5x its p99; check
>= 0.9x; 0 errors; balance == ledger sum afterwards.
"""

from __future__ import annotations

import os
import random
import sys
from decimal import Decimal

from bench import common
from bench.common import Result, emit, size
from bench.server import LoadResult

CONCURRENCY = 32
ACCOUNTS = 1_000
BALANCE = Decimal("1000000.0000")


# The same server for the project and the baseline; BENCH_B2_WORKERS/THREADS try other shapes.
WORKERS = int(os.environ.get("BENCH_B2_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_B2_THREADS", "2"))


def setup(prefix: str) -> tuple[str, list[int], int]:
    """Service user + token, ACCOUNTS accounts and one contended account, quota used up."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from rest_framework.authtoken.models import Token

    from bench.data import make_accounts
    from billing.models import MonthlyQuota
    from config import clock
    from plans.models import MeteredService

    user = get_user_model().objects.create_user(username=f"{prefix}-svc", password="x")
    user.user_permissions.add(Permission.objects.get(codename="use_internal_api"))
    token = Token.objects.create(user=user).key
    many = make_accounts(f"{prefix}m", ACCOUNTS, balance=BALANCE)
    one = make_accounts(f"{prefix}o", 1, balance=BALANCE)
    svc = MeteredService.objects.get(service="payment")
    month = clock.month_of(clock.now())
    MonthlyQuota.objects.bulk_create(
        [
            MonthlyQuota(
                account_id=pk,
                service=svc,
                month=month,
                total=svc.monthly_free_quota,
                used=svc.monthly_free_quota,
            )
            for pk in [*many.values(), *one.values()]
        ],
        batch_size=1000,
    )
    return token, list(many.values()), next(iter(one.values()))


def _server_statements() -> int:
    """How many statements MariaDB has run since it started (``Questions``: every client's)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Questions'")
        return int(cursor.fetchone()[1])


def counted(**load_args: object) -> LoadResult:
    """``run_load`` with the database statements run meanwhile: a per-request figure the
    machine's speed does not move (the ratios drift with a shared host; this does not)."""
    from dataclasses import replace

    from bench.server import run_load

    before = _server_statements()
    result = run_load(**load_args)  # type: ignore[arg-type]
    return replace(result, statements=_server_statements() - before - 1)


def _mean(a: LoadResult, b: LoadResult) -> LoadResult:
    """Two runs of the baseline as one: all requests over all seconds, percentiles averaged."""
    return LoadResult(
        a.tool,
        a.requests + b.requests,
        a.seconds + b.seconds,
        a.errors + b.errors,
        (a.p50_ms + b.p50_ms) / 2,
        (a.p99_ms + b.p99_ms) / 2,
        a.sample_error or b.sample_error,
        a.statements + b.statements,
    )


def _per_request(res: LoadResult) -> float:
    return res.statements / res.requests if res.requests else 0.0


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def main() -> int:
    if not common.bootstrap("B2"):
        return 0
    from bench.data import ledger_mismatches
    from bench.server import gunicorn, run_load

    seconds = size("B2")
    prefix = f"b2x{random.randrange(10**6)}"
    token, many_ids, one_id = setup(prefix)
    with gunicorn(workers=WORKERS, threads=THREADS) as server:
        ping = f"{server.base}/internal/v1/bench/ping"
        deduct = f"{server.base}/internal/v1/billing/deduct-quota"
        check = f"{server.base}/internal/v1/billing/check-quota"
        common_args = {"token": token, "seconds": seconds, "concurrency": CONCURRENCY}
        # a short warm-up of *both* endpoints so every worker has imported everything, holds a DB
        # connection and has filled its per-process caches before anything is measured
        warm_ups = ((ping, f"{prefix}o-0", 1), (deduct, f"{prefix}m", ACCOUNTS), (check, f"{prefix}m", 8))
        for url, ns, n_acc in warm_ups:
            run_load(
                url=url, namespace_prefix=ns, accounts=n_acc, run_id="warm", **common_args | {"seconds": 2}
            )
        # every project run is bracketed by a baseline run just before and just after it, and its
        # ratio uses the mean of those two: on a shared machine the speed drifts by a quarter within
        # minutes, and one baseline at the start and one at the end left two minutes between them
        # and the middle runs
        ping_args = {"url": ping, "namespace_prefix": f"{prefix}o-0", "accounts": 1, **common_args}
        plan = (
            ("deduct-quota", "many accounts", deduct, f"{prefix}m", ACCOUNTS, 0.7, 1.5),
            ("deduct-quota", "one account", deduct, f"{prefix}o-0", 1, 0.7, 1.5),
            ("check-quota", "many accounts", check, f"{prefix}m", ACCOUNTS, 0.9, None),
            ("check-quota", "one account", check, f"{prefix}o-0", 1, 0.9, None),
        )
        pings = [counted(run_id="ping0", **ping_args)]
        measured: list[tuple[str, str, LoadResult, int, float, float | None, LoadResult, LoadResult]] = []
        for index, (endpoint, label, url, ns, n_acc, min_ratio, max_p99_ratio) in enumerate(plan):
            res = counted(url=url, namespace_prefix=ns, accounts=n_acc, run_id=f"r{index}", **common_args)
            pings.append(counted(run_id=f"ping{index + 1}", **ping_args))
            measured.append((endpoint, label, res, n_acc, min_ratio, max_p99_ratio, pings[-2], pings[-1]))
        server_peak = server.peak_rss_mb
    mismatches = ledger_mismatches([*many_ids, one_id])
    for endpoint, label, res, n_acc, min_ratio, max_p99_ratio, before, after in measured:
        base = _mean(before, after)
        ratio = res.rps / base.rps if base.rps else 0.0
        p99_ratio = res.p99_ms / base.p99_ms if base.p99_ms else float("inf")
        checks_ok = res.errors == 0 and not mismatches and base.errors == 0
        met = checks_ok and ratio >= min_ratio and (max_p99_ratio is None or p99_ratio <= max_p99_ratio)
        p99_target = f", p99 <= {max_p99_ratio}x" if max_p99_ratio is not None else ""
        notes = [
            f"{CONCURRENCY} clients, {seconds} s, load by {res.tool}",
            f"errors {res.errors} (baseline {base.errors})",
            f"p99 ratio {p99_ratio:.2f}x (baseline p50/p99 {base.p50_ms:.1f}/{base.p99_ms:.1f} ms)",
            f"baseline before/after {before.rps:,.0f}/{after.rps:,.0f} req/s (mean used)",
            f"DB statements per request {_per_request(res):.2f} (baseline {_per_request(base):.2f})",
            f"balance==ledger: {'yes' if not mismatches else f'NO ({len(mismatches)} accounts)'}",
        ]
        if res.sample_error:
            notes.append(f"first error: {res.sample_error[:200]}")
        emit(
            Result(
                "B2",
                f"{endpoint} ({label})",
                f"{seconds} s x {CONCURRENCY} clients, {n_acc} account(s)",
                f"{res.rps:,.0f} req/s ({res.requests:,} requests)",
                f"{base.rps:,.0f} req/s",
                f"{ratio:.2f}x",
                latency=f"{res.p50_ms:.1f}/{res.p99_ms:.1f} ms",
                peak_memory=f"{server_peak:.0f} MB (gunicorn master + 4 workers RSS)",
                target=f">= {min_ratio}x req/s{p99_target}, 0 errors, balance == ledger",
                verdict="MET" if met else ("MISSED" if checks_ok else "FAILED"),
                notes="; ".join(notes),
                numbers={
                    "rps": res.rps,
                    "base_rps": base.rps,
                    "p50_ms": res.p50_ms,
                    "p99_ms": res.p99_ms,
                    "base_p50_ms": base.p50_ms,
                    "base_p99_ms": base.p99_ms,
                    "errors": res.errors,
                    "base_rps_before": before.rps,
                    "base_rps_after": after.rps,
                    "mismatches": len(mismatches),
                    "statements_per_request": _per_request(res),
                    "base_statements_per_request": _per_request(base),
                },
                checks_ok=checks_ok,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
