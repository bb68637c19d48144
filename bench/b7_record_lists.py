"""B7 (issue 21.4): page through one account's N records: ``GET /api/v1/billing/records`` (ledger
entries, merged with quota usages) and ``GET /usageapi/v1/usages`` (usage records). Target: p99 <=
30 ms per page at any page, ``total`` from a counter rather than ``COUNT(*)``.

Project: both endpoints through the whole Django stack in-process (token auth, middleware, view,
selector, serializer, envelope), ``size=30``, at the first pages, every 10% of the list and the last
page, each requested ``REPEAT`` times, twice: by ``after=<cursor>`` (keyset: the cursor a client
holds at that position, written from the naive query's previous row; the verdict) and by
``page=`` (LIMIT/OFFSET over index entries from the nearer end; in the notes). Baseline: the raw
keyset page (ids on the index, joined to the rows) through MySQLdb (no count, no serializing),
same run.
Correctness (fails the run): every page measured is compared once with the naive ``ORDER BY
created_at DESC, id DESC LIMIT/OFFSET`` over the same rows, a walk of ``WALK`` pages by ``next``
with the naive first ``WALK`` pages, and ``total`` with the number of rows built. Other accounts'
rows (N/10) share the tables.
"""

from __future__ import annotations

import os
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
WALK = 20  # pages followed by ``next`` from the top, checked against the naive query


def build(n: int, prefix: str) -> tuple[Any, int, str, str]:
    """One user's account with N ledger entries and N usage records (+N/10 of each for another
    account); returns (the account, the other account's id, the token, how the write-back settled)."""
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
        from billing.ledger_write import ledger_entry_counts_rebuild
        from usage.rollups import rebuild

        ledger_entry_counts_rebuild(account_ids=[account.pk, other])  # the rows came in raw:
        rebuild()  # their counts (the lists' totals) are repaired as after a restore
        cur = conn.cursor()
        for table in ("billing_ledgerentry", "usage_usagerecord"):
            cur.execute(f"ANALYZE TABLE {table}")
            cur.fetchall()
        conn.commit()
        settled = common.settle_writes(conn)
    finally:
        conn.close()
    return account, other, token, settled


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


def cursor_at(table: str, account_id: int, offset: int, *, merged: bool) -> tuple[str, Any, int]:
    """The ``next`` a client holds after walking to row ``offset`` (the last row of the page
    before): written from the naive query's row, as the server writes it; with its key."""
    from config.keyset import Cursor

    conn = common.raw_connect()
    try:
        cur = conn.cursor()
        cur.execute(
            f"SELECT created_at, id FROM {table} WHERE account_id = %s "  # noqa: S608
            "ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET %s",
            (account_id, offset),
        )
        at, pk = cur.fetchone()
    finally:
        conn.close()
    return Cursor(at.replace(tzinfo=UTC), int(pk), 1 if merged else 0).encode(with_source=merged), at, int(pk)


def baseline_page(cur: Any, table: str, account_id: int, key: tuple[Any, int] | None) -> list[int]:
    """The strongest hand-written page: the keyset SELECT of the page's ids on the ``(account,
    created_at)`` index joined back to the whole rows (a plain ``SELECT *`` with the keyset
    condition makes MariaDB 10.11 read the account's index from the top: 250-400 ms at 100,000;
    no count, no serializing)."""
    where, args = "account_id = %s", [account_id]
    if key is not None:
        where += " AND (created_at < %s OR (created_at = %s AND id < %s))"
        args += [key[0], key[0], key[1]]
    cur.execute(
        f"SELECT t.* FROM {table} t JOIN (SELECT id FROM {table} WHERE {where} "  # noqa: S608
        "ORDER BY created_at DESC, id DESC LIMIT %s) k ON k.id = t.id ORDER BY t.created_at DESC, t.id DESC",
        (*args, SIZE),
    )
    return [int(r[0]) for r in cur.fetchall()]


def measure(client: Any, path: str, pages: list[int], table: str, account_id: int, n: int) -> dict[str, Any]:
    """Offset pages (``page=``), cursor pages (``after=`` at the same positions), the raw keyset
    baseline at those positions, and a walk of ``WALK`` pages by ``next``; every page checked once
    against the naive query, ``total`` against n."""
    merged = table == "billing_ledgerentry"
    out: dict[str, Any] = {"offset": [], "cursor": [], "baseline": [], "cpu": [], "wrong": [], "bad_total": 0}
    slowest = {"offset": (0.0, 0), "cursor": (0.0, 0)}

    def check(name: str, page: int, response: Any) -> None:
        data = response.json().get("data") or {}
        if response.status_code != 200 or data.get("total") != n:
            out["bad_total"] += 1
        if [r["id"] for r in data.get("results", [])] != naive_ids(table, account_id, (page - 1) * SIZE):
            out["wrong"].append(f"{name} {page}")

    conn = common.raw_connect()
    cur = conn.cursor()
    for page in pages:
        token, key = "", None
        if page > 1:
            token, at, pk = cursor_at(table, account_id, (page - 1) * SIZE - 1, merged=merged)
            key = (at, pk)
        for name, params in (
            ("offset", {"page": page, "size": SIZE}),
            ("cursor", {"after": token, "size": SIZE}),
        ):
            for k in range(REPEAT):
                c0, t0 = time.process_time(), time.perf_counter()
                response = client.get(path, params)
                elapsed = time.perf_counter() - t0
                out[name].append(elapsed)
                if name == "cursor":  # this process's own CPU: the part of a page the load does not inflate
                    out["cpu"].append(time.process_time() - c0)
                slowest[name] = max(slowest[name], (elapsed, page))
                if k == 0:
                    check(name, page, response)
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            baseline_page(cur, table, account_id, key)
            out["baseline"].append(time.perf_counter() - t0)
    conn.close()
    after, walked = "", []
    for _ in range(WALK):
        data = client.get(path, {"after": after, "size": SIZE}).json()["data"]
        walked += [r["id"] for r in data["results"]]
        after = data["next"]
    want = [pk for page in range(WALK) for pk in naive_ids(table, account_id, page * SIZE)]
    if walked != want:
        out["wrong"].append("walk")
    out["slowest"] = slowest
    return out


def main() -> int:
    if not common.bootstrap("B7"):
        return 0
    from rest_framework.test import APIClient

    n = size("B7")
    prefix = f"b7x{random.randrange(10**6)}"
    account, _other, token, settled = build(n, prefix)
    last = -(-n // SIZE)
    pages = sorted({1, 2, 3, *(max(1, last * k // 10) for k in range(1, 10)), last - 1, last})
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.get("/api/v1/billing/records", {"page": 1})  # warm-up: imports, caches, connection
    client.get("/usageapi/v1/usages", {"page": 1})
    from config.startup import freeze_startup_objects

    freeze_startup_objects()  # what config.wsgi does in every server process before its first request
    for name, path, table in (
        ("billing records", "/api/v1/billing/records", "billing_ledgerentry"),
        ("usages", "/usageapi/v1/usages", "usage_usagerecord"),
    ):
        m = measure(client, path, pages, table, account.pk, n)
        ok = not m["wrong"] and not m["bad_total"]
        ms = {
            k: (percentile(m[k], 50) * 1000, percentile(m[k], 99) * 1000)
            for k in ("offset", "cursor", "baseline")
        }
        (c50, c99), (o50, o99), (b50, b99) = ms["cursor"], ms["offset"], ms["baseline"]
        slow_off, slow_cur = m["slowest"]["offset"], m["slowest"]["cursor"]
        equal = "yes" if not m["wrong"] else f"NO {m['wrong']}"
        totals = "yes" if not m["bad_total"] else f"NO ({m['bad_total']})"
        emit(
            Result(
                "B7",
                f"{name} list",
                f"{n:,} records of one account (+{n // 10:,} of another), "
                f"{len(pages)} positions x {REPEAT}, size {SIZE}",
                f"GET {path}?after= (keyset)",
                f"raw keyset page p50/p99 {b50:.2f}/{b99:.2f} ms",
                f"p99 {c99 / b99:.1f}x the raw page" if b99 else "-",
                latency=f"{c50:.1f}/{c99:.1f} ms per page",
                target="p99 <= 30 ms per page at any page",
                verdict="MET" if c99 <= 30 and ok else ("MISSED" if ok else "FAILED"),
                notes=f"process CPU per cursor page p50 {percentile(m['cpu'], 50) * 1000:.1f} ms; "
                f"load average {os.getloadavg()[0]:.1f}; page= (offset, nearer end) p50/p99 "
                f"{o50:.1f}/{o99:.1f} ms, slowest "
                f"{slow_off[0] * 1000:.1f} ms at page {slow_off[1]:,} of {last:,}; cursor slowest "
                f"{slow_cur[0] * 1000:.1f} ms at page {slow_cur[1]:,}; pages (and a walk of {WALK} by next) "
                f"equal to the naive query: {equal}; total == {n:,}: {totals}; {settled}",
                numbers={"n": n, "p50_ms": c50, "p99_ms": c99, "offset_p99_ms": o99, "baseline_p99_ms": b99},
                checks_ok=ok,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
