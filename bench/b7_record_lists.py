"""B7 (issue 21.4): page through one account's N records: ``GET /api/v1/billing/records`` (ledger
entries, merged with quota usages) and ``GET /usageapi/v1/usages`` (usage records). Target: p99 <=
30 ms per page at any page, ``total`` from a counter rather than ``COUNT(*)``.

Project: both endpoints through the whole Django stack in-process (token auth, middleware, view,
selector, serializer, envelope), ``size=30``, at the first pages, every 10% of the list and the last
page, each requested ``REPEAT`` times. Correctness (fails the run): every page measured is compared
once with the naive ``ORDER BY created_at DESC, id DESC LIMIT/OFFSET`` over the same rows, and
``total`` with the number of rows built. Other accounts' rows (N/10) share the tables. No baseline
in the issue: the target is absolute.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import common
from bench.common import Result, emit, percentile, size

SIZE = 30
REPEAT = 3


def build(n: int, prefix: str) -> tuple[Any, int, str]:
    """One user's account with N ledger entries and N usage records (+N/10 of each for another
    account); returns (the account, the other account's id, the token)."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from bench.data import insert_many
    from billing.services import account_get_or_create

    User = get_user_model()
    owner = User.objects.create_user(username=f"{prefix}o", password="x")
    token = Token.objects.create(user=owner).key
    account = account_get_or_create(namespace=owner.username, member=owner)
    other = account_get_or_create(namespace=f"{prefix}x").pk
    base = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    rng = random.Random(7)
    conn = common.raw_connect()
    try:
        extra = n // 10

        def entries() -> Any:
            for i in range(n + extra):
                acc = account.pk if i < n else other
                at = base + timedelta(seconds=rng.randrange(300 * 24 * 3600))
                yield (acc, Decimal("-0.5000"), Decimal("0"), "charge", "purchase_order", f"{prefix}-o", "",
                       f"k{i}", at)  # fmt: skip

        insert_many(
            conn,
            "billing_ledgerentry",
            ["account_id", "amount", "balance_after", "kind", "subject_type", "subject_id", "memo"]
            + ["idempotency_key", "created_at"],
            entries(),
        )

        def records() -> Any:
            for i in range(n + extra):
                acc = account.pk if i < n else other
                at = base + timedelta(seconds=rng.randrange(300 * 24 * 3600))
                half = Decimal("0.5")
                yield (acc, "purchase", f"{prefix}-o", 10**9 + i, "p:0", "cn-north-1", "", at,
                       at + timedelta(hours=1), Decimal(1), half, half, "hourly", "unpaid", at)  # fmt: skip

        insert_many(
            conn,
            "usage_usagerecord",
            ["account_id", "source", "order_ref", "line_id", "period_key", "region", "component_id"]
            + ["period_start", "period_end", "quantity", "unit_price", "amount", "kind", "status"]
            + ["created_at"],
            records(),
        )
        cur = conn.cursor()
        for table in ("billing_ledgerentry", "usage_usagerecord"):
            cur.execute(f"ANALYZE TABLE {table}")
            cur.fetchall()
        conn.commit()
    finally:
        conn.close()
    return account, other, token


def naive_ids(table: str, account_id: int, offset: int) -> list[int]:
    conn = common.raw_connect()
    try:
        cur = conn.cursor()
        cur.execute(
            f"SELECT id FROM {table} WHERE account_id = %s ORDER BY created_at DESC, id DESC "  # noqa: S608
            "LIMIT %s OFFSET %s",
            (account_id, SIZE, offset),
        )
        return [int(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()


def measure(
    client: Any, path: str, pages: list[int], ids_of: Any, table: str, account_id: int, n: int
) -> Any:
    """(latencies in s, pages that differed from the naive query, totals that were not n, slowest)."""
    times: list[float] = []
    wrong: list[int] = []
    bad_total = 0
    slowest = (0.0, 0)
    for page in pages:
        for k in range(REPEAT):
            t0 = time.perf_counter()
            response = client.get(path, {"page": page, "size": SIZE})
            elapsed = time.perf_counter() - t0
            times.append(elapsed)
            slowest = max(slowest, (elapsed, page))
            if k == 0:
                data = response.json().get("data") or {}
                if response.status_code != 200 or data.get("total") != n:
                    bad_total += 1
                if ids_of(data) != naive_ids(table, account_id, (page - 1) * SIZE):
                    wrong.append(page)
    return times, wrong, bad_total, slowest


def main() -> int:
    if not common.bootstrap("B7"):
        return 0
    from rest_framework.test import APIClient

    n = size("B7")
    prefix = f"b7x{random.randrange(10**6)}"
    account, _other, token = build(n, prefix)
    last = -(-n // SIZE)
    pages = sorted({1, 2, 3, *(max(1, last * k // 10) for k in range(1, 10)), last - 1, last})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.get("/api/v1/billing/records", {"page": 1})  # warm-up: imports, caches, connection
    lines = []
    ok = True

    def ids_of(data: dict[str, Any]) -> list[int]:
        return [r["id"] for r in data.get("results", [])]

    for name, path, table in (
        ("billing records", "/api/v1/billing/records", "billing_ledgerentry"),
        ("usages", "/usageapi/v1/usages", "usage_usagerecord"),
    ):
        times, wrong, bad_total, slowest = measure(client, path, pages, ids_of, table, account.pk, n)
        p50, p99 = percentile(times, 50) * 1000, percentile(times, 99) * 1000
        ok = ok and not wrong and not bad_total
        lines.append((name, path, p50, p99, wrong, bad_total, slowest))
    for name, path, p50, p99, wrong, bad_total, slowest in lines:
        emit(
            Result(
                "B7",
                f"{name} list",
                f"{n:,} records of one account (+{n // 10:,} of another), "
                f"{len(pages)} pages x {REPEAT}, size {SIZE}",
                f"GET {path}",
                "- (absolute target)",
                "-",
                latency=f"{p50:.1f}/{p99:.1f} ms per page",
                target="p99 <= 30 ms per page at any page",
                verdict="MET" if p99 <= 30 and ok else ("MISSED" if ok else "FAILED"),
                notes=f"slowest {slowest[0] * 1000:.1f} ms at page {slowest[1]:,} of {last:,}; "
                f"pages equal to the naive query: {'yes' if not wrong else f'NO {wrong}'}; total == {n:,}: "
                f"{'yes' if not bad_total else f'NO ({bad_total})'}",
                numbers={"n": n, "p50_ms": p50, "p99_ms": p99, "pages": pages},
                checks_ok=ok,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
