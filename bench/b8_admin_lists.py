"""B8 (issue 21.4): the admin changelists of ledger entries, usage records and purchase orders at N
rows each. Target: p99 <= 300 ms per page with the common filters (namespace, kind, status, month)
and search.

Project: each changelist through the whole Django stack in-process (session login, admin views,
filters, paginator, templates), a superuser as finance staff sees it. Correctness (fails the run):
every page measured lists the same row ids, in the same order, as the naive query written by hand
(``ORDER BY`` the model's ordering, ``LIMIT 100``) with the same filter. No baseline in the issue:
the target is absolute. Rows are spread over ``ACCOUNTS`` accounts and 12 months of 2026.
"""

from __future__ import annotations

import random
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench import common
from bench.common import Result, emit, percentile, size

ACCOUNTS = 1_000
PER_PAGE = 100  # Django admin's default list_per_page
REPEAT = 5
BASE = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)  # naive UTC, as the driver stores it
SPAN = 360 * 24 * 3600


def _ledger_rows(n: int, accounts: list[int], rng: random.Random) -> Any:
    kinds = ["charge", "recharge", "refund", "charge", "charge"]
    for i in range(n):
        at = BASE + timedelta(seconds=rng.randrange(SPAN))
        kind = kinds[i % len(kinds)]
        amount = Decimal("-0.5000") if kind == "charge" else Decimal("1.0000")
        yield (rng.choice(accounts), amount, Decimal("0"), kind, "purchase_order", f"PO{i:012d}", "bench",
               f"b8:{i}", at)  # fmt: skip


def _usage_rows(n: int, accounts: list[int], rng: random.Random, prefix: str) -> Any:
    statuses = ["paid", "paid", "paid", "unpaid", "free"]
    for i in range(n):
        at = BASE + timedelta(seconds=rng.randrange(SPAN))
        half = Decimal("0.5")
        order, status = f"PO{i % 50_000:012d}", statuses[i % 5]
        # (line, period key) is unique: a key of this run's own, as other benchmarks share the table
        yield (rng.choice(accounts), "purchase", order, 10**9 + i, f"{prefix}:0", "cn-north-1", "",
               at, at + timedelta(hours=1), Decimal(1), half, half, "hourly", status, at)  # fmt: skip


def build(n: int, prefix: str) -> list[int]:
    """N ledger entries, N usage records and N purchase orders over ACCOUNTS accounts; returns the
    account ids."""
    from bench.data import insert_many, make_accounts
    from plans.models import BillingMode, Cycle, Plan

    ids = make_accounts(prefix, ACCOUNTS)
    accounts = sorted(ids.values())
    plan, _ = Plan.objects.get_or_create(
        plan_id="bench-b8",
        defaults={"name": "bench b8", "plan_type": "benchvol", "region": "cn-north-1",
                  "billing_mode": BillingMode.PREPAID, "cycle": Cycle.MONTH},
    )  # fmt: skip
    rng = random.Random(8)
    conn = common.raw_connect()
    try:
        insert_many(
            conn,
            "billing_ledgerentry",
            ["account_id", "amount", "balance_after", "kind", "subject_type", "subject_id", "memo"]
            + ["idempotency_key", "created_at"],
            _ledger_rows(n, accounts, rng),
        )
        insert_many(
            conn,
            "usage_usagerecord",
            ["account_id", "source", "order_ref", "line_id", "period_key", "region", "component_id"]
            + ["period_start", "period_end", "quantity", "unit_price", "amount", "kind", "status"]
            + ["created_at"],
            _usage_rows(n, accounts, rng, prefix),
        )

        def orders() -> Any:
            for i in range(n):
                start = BASE + timedelta(seconds=rng.randrange(SPAN))
                yield (f"PO{prefix}{i:012d}"[:32], rng.choice(accounts), "cn-north-1", plan.pk, 1, f"vm-{i}",
                       "{}", start, start + timedelta(days=30), None, rng.choice([1, 1, 1, 2, 3, 4]), "",
                       start, start)  # fmt: skip

        insert_many(
            conn,
            "orders_purchaseorder",
            ["order_id", "account_id", "region", "plan_id", "quantities", "resource_name", "parameters"]
            + ["start_time", "deadline", "end_time", "status", "end_reason", "created_at", "updated_at"],
            orders(),
        )
        cur = conn.cursor()
        for table in ("billing_ledgerentry", "usage_usagerecord", "orders_purchaseorder"):
            cur.execute(f"ANALYZE TABLE {table}")
            cur.fetchall()
        conn.commit()
    finally:
        conn.close()
    return accounts


def naive_ids(sql_where: str, params: list[Any], table: str, order: str, page: int) -> list[int]:
    conn = common.raw_connect()
    try:
        cur = conn.cursor()
        cur.execute(
            f"SELECT t.id FROM {table} t JOIN billing_account a ON a.id = t.account_id "  # noqa: S608
            f"WHERE {sql_where} ORDER BY {order} LIMIT %s OFFSET %s",
            [*params, PER_PAGE, (page - 1) * PER_PAGE],
        )
        return [int(r[0]) for r in cur.fetchall()]
    finally:
        conn.close()


Scenario = tuple[str, str, str, dict[str, Any], str, list[Any]]


def scenarios(namespace: str, account_id: int) -> list[Scenario]:
    """(list, admin path, order by, query, naive WHERE, its params) for every page measured."""
    from config.clock import local_tz

    def utc(month: int) -> str:  # the admin's month is local (TALLY_TIME_ZONE), stored UTC
        return datetime(2026, month, 1, tzinfo=local_tz()).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    june = {"__year": 2026, "__month": 6}
    june_where = f"{{col}} >= '{utc(6)}' AND {{col}} < '{utc(7)}'"
    out: list[Scenario] = []
    for name, path, table_order, col, kind_param in (
        ("ledger entries", "/admin/billing/ledgerentry/", "t.created_at DESC, t.id DESC", "created_at",
         ("kind", "charge")),
        ("usage records", "/admin/usage/usagerecord/", "t.period_start DESC, t.id DESC", "period_start",
         ("status__exact", "unpaid")),
        ("purchase orders", "/admin/orders/purchaseorder/", "t.start_time DESC, t.id DESC", "start_time",
         ("status__exact", "2")),
    ):  # fmt: skip
        field = kind_param[0].split("__")[0]
        out += [
            (name, path, table_order, {}, "1=1", []),
            (name, path, table_order, {"p": 50}, "1=1", []),
            (name, path, table_order, {kind_param[0]: kind_param[1]}, f"t.{field} = %s", [kind_param[1]]),
            (name, path, table_order, {f"{col}{k}": v for k, v in june.items()},
             june_where.format(col=f"t.{col}"), []),
            (name, path, table_order, {"account__id__exact": account_id}, "t.account_id = %s", [account_id]),
            (name, path, table_order, {"q": namespace}, "a.namespace = %s", [namespace]),
        ]  # fmt: skip
    return out


TABLES = {
    "/admin/billing/ledgerentry/": "billing_ledgerentry",
    "/admin/usage/usagerecord/": "usage_usagerecord",
    "/admin/orders/purchaseorder/": "orders_purchaseorder",
}


def page_ids(path: str, html: str) -> list[int]:
    """The row ids of a changelist page, in order (each row links to its change page)."""
    seen: dict[int, None] = {}
    for pk in re.findall(re.escape(path) + r"(\d+)/change/", html):
        seen.setdefault(int(pk), None)
    return list(seen)


# Over 60 lines on purpose: a benchmark step reads top to bottom as the one measurement it makes.
def main() -> int:
    if not common.bootstrap("B8"):
        return 0
    from django.contrib.auth import get_user_model
    from django.test import Client

    n = size("B8")
    prefix = f"b8x{random.randrange(10**6)}"
    accounts = build(n, prefix)
    from billing.models import Account

    account_id = accounts[len(accounts) // 2]
    namespace = Account.objects.get(pk=account_id).namespace
    admin_user = get_user_model().objects.create_superuser(username=f"{prefix}a", password=uuid.uuid4().hex)
    client = Client()
    client.force_login(admin_user)
    ok = True
    per_list: dict[str, list[float]] = {}
    slowest: dict[str, tuple[float, str]] = {}
    problems: list[str] = []
    for name, path, order, query, where, params in scenarios(namespace, account_id):
        client.get(path, query)  # warm-up of this URL (template compilation, caches)
        times = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            response = client.get(path, query)
            times.append(time.perf_counter() - t0)
        label = "&".join(f"{k}={v}" for k, v in query.items()) or "(none)"
        page = int(query.get("p", 1))
        if response.status_code != 200 or "?e=1" in response.get("Location", ""):
            problems.append(f"{name} {label}: HTTP {response.status_code} {response.get('Location', '')}")
        elif page_ids(path, response.content.decode()) != naive_ids(where, params, TABLES[path], order, page):
            problems.append(f"{name} {label}: rows differ from the naive query")
        per_list.setdefault(name, []).extend(times)
        worst = max(times)
        if worst > slowest.get(name, (0.0, ""))[0]:
            slowest[name] = (worst, label)
        p50_ms = percentile(times, 50) * 1000
        print(f"B8 detail {name} {label}: p50 {p50_ms:.1f} ms, max {worst * 1000:.1f} ms", flush=True)
    ok = not problems
    paths = {name: path for name, path, *_ in scenarios(namespace, account_id)}
    for name, times in per_list.items():
        p50, p99 = percentile(times, 50) * 1000, percentile(times, 99) * 1000
        mine = [p for p in problems if p.startswith(name)]
        emit(
            Result(
                "B8",
                f"admin {name}",
                f"{n:,} rows over {ACCOUNTS:,} accounts; 6 pages x {REPEAT} (none, page 50, kind/status, "
                "month, account filter, namespace search)",
                f"GET {paths[name]}",
                "- (absolute target)",
                "-",
                latency=f"{p50:.1f}/{p99:.1f} ms per page",
                target="p99 <= 300 ms per page",
                verdict=("MET" if p99 <= 300 else "MISSED") if not mine else "FAILED",
                notes=f"slowest {slowest[name][0] * 1000:.1f} ms ({slowest[name][1]}); rows equal to the "
                f"naive query: {'yes' if not mine else 'NO: ' + '; '.join(mine)}",
                numbers={"n": n, "p50_ms": p50, "p99_ms": p99},
                checks_ok=not mine,
            )
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
