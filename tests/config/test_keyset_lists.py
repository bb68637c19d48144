"""The ``after=`` cursor and the deep pages of ``GET /usageapi/v1/usages`` and
``GET /api/v1/billing/records`` (B7, ``config.keyset``): a walk by ``next`` is the naive order with
nothing missing or twice while newer rows are written, every ``page`` equals the naive
``ORDER BY created_at DESC, id DESC LIMIT/OFFSET`` (pages in the older half are read from the other
end of the index), and a bad cursor is a 400 naming ``after``."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry, QuotaUsage
from billing.quota import quota_deduct
from billing.services import account_credit
from config.api.errors import ErrorCode
from tests.billing.factories import funded_account
from usage.models import UsageRecord

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _usage(account: Any, i: int) -> UsageRecord:
    at = T0 + timedelta(hours=i)
    return UsageRecord.objects.create(
        account=account, source="purchase", order_ref=f"PO{i}", line_id=10_000 + i, period_key=f"p:{i}",
        period_start=at, period_end=at + timedelta(hours=1), unit_price=Decimal(1), amount=Decimal(1),
        kind="hourly",
    )  # fmt: skip


def _set_times(model: Any, times: dict[int, datetime]) -> None:
    for pk, at in times.items():
        model.objects.filter(pk=pk).update(created_at=at)


def _walk(api: Any, path: str, size: int, between: Any = None, **query: str) -> tuple[list[Any], list[int]]:
    """Follow ``next`` from the top; ``between(n)`` runs after the n-th page. Returns the rows'
    keys in walk order and every page's total."""
    seen: list[Any] = []
    totals: list[int] = []
    after = ""
    for n in range(1, 100):
        r = api.get(path, {**query, "size": size, "after": after})
        assert r.status_code == 200, r.content
        data = r.json()["data"]
        assert set(data) == {"total", "results", "next"}
        assert len(data["results"]) <= size
        seen += [(row.get("record_type", "usage"), row["id"]) for row in data["results"]]
        totals.append(data["total"])
        if data["next"] is None:
            return seen, totals
        if between:
            between(n)
        after = data["next"]
    raise AssertionError("the walk did not end")


@pytest.fixture
def usages(user):
    """23 usage records of alice with many equal times (so id breaks the ties), 3 of another account."""
    account = funded_account("alice", "0", member=user)
    rows = [_usage(account, i) for i in range(23)]
    _set_times(UsageRecord, {row.pk: T0 + timedelta(minutes=i // 4) for i, row in enumerate(rows)})
    other = funded_account("bob")
    for i in range(3):
        _usage(other, 100 + i)
    return account


def _naive_usages(account: Any) -> list[int]:
    qs = UsageRecord.objects.filter(account=account).order_by("-created_at", "-id")
    return list(qs.values_list("id", flat=True))


def test_usages_walk_by_cursor_has_every_row_once_while_newer_rows_arrive(api, usages):
    before = _naive_usages(usages)
    added: list[int] = []

    def insert(n: int) -> None:  # a newer record written between two pages
        added.append(_usage(usages, 200 + n).pk)

    seen, totals = _walk(api, "/usageapi/v1/usages", 4, insert)
    assert [pk for _, pk in seen] == before  # the naive order, nothing missing, nothing twice
    assert totals == [23 + n for n in range(len(totals))]  # total counts the new rows
    assert not set(added) & {pk for _, pk in seen}  # rows above the cursor are not in this walk
    seen_again, _ = _walk(api, "/usageapi/v1/usages", 7)
    assert [pk for _, pk in seen_again] == _naive_usages(usages)


def test_usages_every_page_equals_the_naive_offset_query(api, usages):
    naive = _naive_usages(usages)
    for size in (1, 4, 5, 30):
        for page in range(1, -(-len(naive) // size) + 1):
            data = api.get("/usageapi/v1/usages", {"size": size, "page": page}).json()["data"]
            assert data["total"] == len(naive)
            assert [r["id"] for r in data["results"]] == naive[(page - 1) * size : page * size], (size, page)
            assert (data["next"] is None) == (page * size >= len(naive))
    data = api.get("/usageapi/v1/usages", {"size": 4, "page": 5}).json()["data"]  # page/size, then after
    rest = api.get("/usageapi/v1/usages", {"size": 100, "after": data["next"]}).json()["data"]
    assert [r["id"] for r in rest["results"]] == naive[20:] and rest["next"] is None


def _records(user: Any) -> Any:
    """Ledger entries and quota usages of alice at shared times: equal (created_at, id) across the
    two tables too, where the ledger entry comes first."""
    account = funded_account("alice", "0", member=user)
    for i in range(9):
        account_credit(account_id=account.pk, amount=Decimal(1), idempotency_key=f"c{i}")
    for i in range(8):
        quota_deduct(account_id=account.pk, service="asset", count=1, request_id=f"r{i}")
    # Give the usages the ids of ledger entries, so that both tables hold the same ids. SQLite
    # does this by itself; MariaDB never reuses an id a rolled-back test took, so deep in a long
    # suite the two counters are far apart.
    usage_ids = sorted(QuotaUsage.objects.filter(account=account).values_list("pk", flat=True))
    entry_ids = sorted(LedgerEntry.objects.filter(account=account).values_list("pk", flat=True))
    for pk in usage_ids:
        QuotaUsage.objects.filter(pk=pk).update(id=pk + 10**12)
    for pk, entry_id in zip(usage_ids, entry_ids, strict=False):
        QuotaUsage.objects.filter(pk=pk + 10**12).update(id=entry_id)
    same = T0 + timedelta(minutes=5)
    _set_times(
        LedgerEntry,
        {e.pk: (same if e.pk % 2 else T0 + timedelta(minutes=e.pk)) for e in LedgerEntry.objects.all()},
    )
    _set_times(
        QuotaUsage,
        {u.pk: (same if u.pk % 3 else T0 + timedelta(minutes=u.pk)) for u in QuotaUsage.objects.all()},
    )
    return account


def _naive_records(account: Any) -> list[tuple[str, int]]:
    keys = [(e.created_at, e.pk, 1) for e in LedgerEntry.objects.filter(account=account)]
    keys += [(u.created_at, u.pk, 0) for u in QuotaUsage.objects.filter(account=account)]
    keys.sort(reverse=True)
    return [("ledger" if src else "quota_usage", pk) for _, pk, src in keys]


def test_records_walk_by_cursor_merges_both_tables_while_rows_arrive(api, user):
    account = _records(user)
    before = _naive_records(account)
    assert len(before) == 17 and len(set(before)) == 17
    shared = {pk for kind, pk in before if kind == "ledger"} & {pk for kind, pk in before if kind != "ledger"}
    assert shared  # some ids exist in both tables: the cursor must say which table

    def insert(n: int) -> None:
        account_credit(account_id=account.pk, amount=Decimal(1), idempotency_key=f"late{n}")
        quota_deduct(account_id=account.pk, service="asset", count=1, request_id=f"late{n}")

    seen, totals = _walk(api, "/api/v1/billing/records", 3, insert)
    assert seen == before
    assert totals == [17 + 2 * n for n in range(len(totals))]
    for kind in ("quota", "recharge"):
        walked, _ = _walk(api, "/api/v1/billing/records", 2, kind=kind)
        assert walked == [k for k in _naive_records(account) if (k[0] == "ledger") == (kind != "quota")]


def test_records_every_page_equals_the_naive_merge(api, user):
    account = _records(user)
    naive = _naive_records(account)
    for query in ({}, {"kind": "quota"}, {"kind": "recharge"}):
        want = [k for k in naive if not query or (k[0] == "ledger") == (query["kind"] != "quota")]
        for size in (1, 3, 4, 30):
            for page in range(1, -(-len(want) // size) + 1):
                data = api.get("/api/v1/billing/records", {**query, "size": size, "page": page}).json()[
                    "data"
                ]
                assert data["total"] == len(want)
                got = [(r["record_type"], r["id"]) for r in data["results"]]
                assert got == want[(page - 1) * size : page * size], (query, size, page)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


BAD_CURSORS = [
    "nope",
    "!!!",
    "é",
    "x" * 101,
    _b64("1.2.3.4"),
    _b64("abc.1"),
    _b64("-5.1"),
    _b64(f"{10**30}.1"),  # past any datetime
    _b64(f"1.{10**30}"),  # past any id
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_usages_bad_cursor_is_a_400_naming_after(api, usages, cursor):
    r = api.get("/usageapi/v1/usages", {"after": cursor})
    assert r.status_code == 400, r.content
    assert r.json()["code"] == ErrorCode.INVALID_PARAMETERS and "after" in r.json()["data"]["errors"]


@pytest.mark.parametrize("cursor", [*BAD_CURSORS, _b64("1.2"), _b64("1.2.2")])
def test_records_bad_cursor_is_a_400_naming_after(api, user, cursor):
    _records(user)
    r = api.get("/api/v1/billing/records", {"after": cursor})
    assert r.status_code == 400, r.content
    assert r.json()["code"] == ErrorCode.BILLING_INVALID_PARAMETERS
    assert "after" in r.json()["data"]["errors"]


def test_after_with_page_is_refused_and_an_old_cursor_still_answers(api, usages):
    first = api.get("/usageapi/v1/usages", {"size": 2}).json()["data"]
    r = api.get("/usageapi/v1/usages", {"after": first["next"], "page": 2})
    assert r.status_code == 400 and "after" in r.json()["data"]["errors"]
    UsageRecord.objects.filter(account=usages).delete()  # the cursor's row is gone: still a position
    r = api.get("/usageapi/v1/usages", {"after": first["next"]})
    assert r.status_code == 200 and r.json()["data"] == {"total": 0, "results": [], "next": None}


def test_the_unfiltered_usages_total_reads_the_rollups_not_the_records(api, usages):
    with CaptureQueriesContext(connection) as queries:
        data = api.get("/usageapi/v1/usages", {"size": 5}).json()["data"]
    assert data["total"] == 23
    counted = [q["sql"] for q in queries if "COUNT(" in q["sql"] and "usage_usagerecord" in q["sql"]]
    assert counted == [] and any("usage_usagerollup" in q["sql"] for q in queries)
    filtered = api.get("/usageapi/v1/usages", {"size": 5, "region": "nowhere"}).json()["data"]
    assert filtered["total"] == 0  # a filtered list counts its own rows
