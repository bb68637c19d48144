"""B2b (issue 21.2): ``POST /internal/v1/billing/deduct-quota/batch`` through gunicorn.

Project: ``CLIENTS`` clients each post batches of ``BATCH`` metered calls (one paid call per item,
the free quota used up beforehand, so every item writes a ledger entry and a usage row) for the run's
seconds, in two shapes: each batch spread over ``GROUPS`` accounts of 1,000 (a gateway that batches
per window and tenant shard), and every batch on one account (all clients contend for one lock).
Target: >= 20,000 metered calls/s, 0 errors, every item answered ok, and afterwards balance ==
ledger sum on every account and no balance below zero. No baseline in the issue: the single
endpoint's figure (B2) is printed for scale.
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
from decimal import Decimal
from http.client import HTTPConnection
from typing import Any

from bench import common
from bench.common import Result, emit, size

CLIENTS = 8
BATCH = 1_000
GROUPS = 10
ACCOUNTS = 1_000


def setup(prefix: str) -> tuple[str, list[str], str]:
    """Service token, ACCOUNTS accounts and one contended account, their free quota used up."""
    from bench.b2_charge_api import setup as b2_setup
    from billing.models import Account

    token, many_ids, one_id = b2_setup(prefix)
    names = dict(Account.objects.filter(pk__in=[*many_ids, one_id]).values_list("pk", "namespace"))
    return token, [names[pk] for pk in many_ids], names[one_id]


def _client(
    base: str, token: str, until: float, namespaces: list[str], groups: int, tag: str, out: Any
) -> None:
    host, port = base.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=120)
    rng = random.Random(tag)
    sent = ok = errors = 0
    latencies: list[float] = []
    sample = ""
    n = 0
    while time.monotonic() < until:
        n += 1
        chosen = rng.sample(namespaces, min(groups, len(namespaces)))
        items = [
            {
                "namespace": chosen[i % len(chosen)],
                "service": "payment",
                "count": 1,
                "request_id": f"{tag}-{n}-{i}",
            }
            for i in range(BATCH)
        ]
        body = json.dumps({"items": items})
        t0 = time.perf_counter()
        headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
        conn.request("POST", "/internal/v1/billing/deduct-quota/batch", body=body, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        latencies.append(time.perf_counter() - t0)
        sent += BATCH
        if response.status != 200:
            errors += BATCH
            sample = sample or f"{response.status} {payload[:300]!r}"
            continue
        data = json.loads(payload)["data"]
        ok += data["deducted"]
        errors += data["refused"]
        if data["refused"] and not sample:
            sample = json.dumps([r["error"] for r in data["results"] if not r["ok"]][:1])
    conn.close()
    out.append((sent, ok, errors, latencies, sample))


def run(base: str, token: str, seconds: int, namespaces: list[str], groups: int, tag: str) -> dict[str, Any]:
    results: list[Any] = []
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=_client, args=(base, token, until, namespaces, groups, f"{tag}{i}", results))
        for i in range(CLIENTS)
    ]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    latencies = sorted(lat for r in results for lat in r[3])
    return {
        "sent": sum(r[0] for r in results),
        "ok": sum(r[1] for r in results),
        "errors": sum(r[2] for r in results),
        "seconds": elapsed,
        "p50": common.percentile(latencies, 50) * 1000 if latencies else 0.0,
        "p99": common.percentile(latencies, 99) * 1000 if latencies else 0.0,
        "sample": next((r[4] for r in results if r[4]), ""),
    }


def main() -> int:
    if not common.bootstrap("B2b"):
        return 0
    from bench.data import ledger_mismatches
    from bench.server import gunicorn
    from billing.models import Account

    seconds = size("B2b")
    prefix = f"b2b{random.randrange(10**6)}"
    token, many, one = setup(prefix)
    with gunicorn(workers=4, threads=2) as server:
        run(server.base, token, 2, many, GROUPS, "warm")
        shapes = [
            ("batches over 10 of 1,000 accounts", run(server.base, token, seconds, many, GROUPS, "m")),
            ("batches on one account", run(server.base, token, seconds, [one], 1, "o")),
        ]
    ids = list(Account.objects.filter(namespace__in=[*many, one]).values_list("pk", flat=True))
    mismatches = ledger_mismatches(ids)
    negative = Account.objects.filter(pk__in=ids, balance__lt=Decimal("0")).count()
    for label, res in shapes:
        rate = res["ok"] / res["seconds"] if res["seconds"] else 0.0
        checks_ok = res["errors"] == 0 and res["ok"] == res["sent"] and not mismatches and negative == 0
        emit(
            Result(
                "B2b",
                f"deduct-quota/batch ({label})",
                f"{seconds} s x {CLIENTS} clients, batches of {BATCH:,} paid calls",
                f"{rate:,.0f} metered calls/s ({res['ok']:,} calls)",
                "- (absolute target)",
                "-",
                latency=f"{res['p50']:.1f}/{res['p99']:.1f} ms per batch",
                target=">= 20,000 calls/s, 0 errors, balance == ledger, 0 overdrafts",
                verdict=("MET" if rate >= 20_000 else "MISSED") if checks_ok else "FAILED",
                notes=f"errors {res['errors']}; balance==ledger: {'yes' if not mismatches else 'NO'}; "
                f"accounts below zero: {negative}"
                + (f"; first error: {res['sample'][:200]}" if res["sample"] else ""),
                numbers={"rate": rate, **{k: v for k, v in res.items() if k != "sample"}},
                checks_ok=checks_ok,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
