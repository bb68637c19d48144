"""Reads for the billing API: the wallet view and the merged records list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from billing.models import Account, LedgerEntry, LedgerKind, MonthlyQuota, QuotaUsage
from config import clock
from config.keyset import Cursor, older_than, page_ids
from plans.models import MeteredService

QUOTA_KIND = "quota"
RECORD_KINDS = [*LedgerKind.values, QUOTA_KIND]


def account_quotas(*, account: Account, at: datetime | None = None) -> list[dict[str, Any]]:
    """This month's quota of every active service; services without a row yet show the full quota
    (rows are created lazily, reading must not create them)."""
    month = clock.month_of(at or clock.now())
    rows = {
        q.service_id: q
        for q in MonthlyQuota.objects.filter(account_id=account.pk, month=month).select_related("service")
    }
    out = []
    for svc in MeteredService.objects.filter(active=True).order_by("service"):
        row = rows.get(svc.pk)
        total = row.total if row else svc.monthly_free_quota
        used = row.used if row else 0
        out.append(
            {"service": svc.service, "month": month, "total": total, "used": used, "remaining": total - used}
        )
    return out


def _ledger_qs(account: Account, kind: str | None, start: datetime | None, end: datetime | None) -> QuerySet:
    qs = LedgerEntry.objects.filter(account_id=account.pk)  # pk None (no wallet yet): nothing
    if kind:
        qs = qs.filter(kind=kind)
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lt=end)
    return qs.order_by("-created_at", "-id")


def _usage_qs(account: Account, start: datetime | None, end: datetime | None) -> QuerySet:
    qs = QuotaUsage.objects.filter(account_id=account.pk).select_related("service")
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lt=end)
    return qs.order_by("-created_at", "-id")


def ledger_record(e: LedgerEntry) -> dict[str, Any]:
    return {
        "record_type": "ledger",
        "id": e.pk,
        "kind": e.kind,
        "amount": e.amount,
        "balance_after": e.balance_after,
        "subject_type": e.subject_type,
        "subject_id": e.subject_id,
        "memo": e.memo,
        "created_at": e.created_at,
    }


def usage_record(u: QuotaUsage) -> dict[str, Any]:
    return {
        "record_type": "quota_usage",
        "id": u.pk,
        "kind": QUOTA_KIND,
        "service": u.service.service,
        "request_id": u.request_id,
        "count": u.count,
        "free_count": u.free_count,
        "paid_count": u.paid_count,
        "amount": u.amount,
        "balance_after": u.balance_after,
        "ledger_entry_id": u.ledger_entry_id,
        "created_at": u.created_at,
    }


LEDGER, USAGE = 1, 0  # the source of a merged row; on equal (created_at, id) the ledger entry first
Key = tuple[Any, int, int]  # (created_at, id, source)


@dataclass(frozen=True)
class RecordPage:
    total: int
    results: list[dict[str, Any]]
    next: str | None  # the cursor of the records after this page (None: the last page)


def account_record_counts(*, account: Account) -> tuple[int, int]:
    """(ledger entries, quota usages) of the account: the unfiltered list's ``total`` and the
    sizes its deep pages are read against, from counters in ONE statement, never a ``COUNT(*)``
    (B7, docs/benchmarks.md). The ledger's is ``Account.ledger_entry_count``, kept by the posting's
    own UPDATE of the account row; the quota usages are ``Account.paid_quota_usage_count`` (those
    that paid, counted by their entry's UPDATE) plus the ``free_usage_count`` of the account's
    monthly quota rows (those that paid nothing, counted by the quota row's UPDATE)."""
    if account.pk is None:
        return 0, 0
    free = (
        MonthlyQuota.objects.filter(account_id=OuterRef("pk"))
        .order_by()
        .values("account_id")
        .annotate(n=Sum("free_usage_count"))
        .values("n")
    )
    row = (
        Account.objects.filter(pk=account.pk)
        .annotate(free=Coalesce(Subquery(free), 0))
        .values_list("ledger_entry_count", "paid_quota_usage_count", "free")
        .first()
    )
    if row is None:
        return 0, 0
    entries, paid, free_usages = row
    return entries, paid + free_usages


def _keys(qs: QuerySet, source: int, limit: int, *, ascending: bool = False) -> list[Key]:
    if ascending:
        qs = qs.order_by("created_at", "id")
    return [(at, pk, source) for at, pk in qs.values_list("created_at", "pk")[:limit]]


def _offset_keys(sources: list[tuple[int, QuerySet, int]], total: int, offset: int, size: int) -> list[Key]:
    """Keys of merged rows ``offset .. offset+size`` (newest first), from the nearer end: one
    source (the other empty or filtered out) pages on its index (``config.keyset.page_ids``); two
    merge their first keys from that end (at most half the list's keys: ``after`` is the fast
    path for walking a long mixed list)."""
    sources = [(src, qs, n) for src, qs, n in sources if n]
    end = min(offset + size, total)
    if offset >= total:
        return []
    if len(sources) == 1:
        src, qs, n = sources[0]
        ids = page_ids(qs, total=n, offset=offset, limit=size)
        return [(None, pk, src) for pk in ids]
    if total - offset < end:
        keys = sorted(k for src, qs, _ in sources for k in _keys(qs, src, total - offset, ascending=True))
        wanted = keys[total - end : total - offset]
        wanted.reverse()
        return wanted
    keys = sorted((k for src, qs, _ in sources for k in _keys(qs, src, end)), reverse=True)
    return keys[offset:end]


def account_records(
    *,
    account: Account,
    kind: str | None,
    start: datetime | None,
    end: datetime | None,
    page: int,
    size: int,
    after: Cursor | None = None,
    use_after: bool = False,
) -> RecordPage:
    """Ledger entries and quota usage records, newest first (``created_at``, id; the ledger entry
    first on equal keys), paged over the merged list: after the cursor ``after`` by keyset (from
    the top when None) if ``use_after``, else page ``page`` of ``size``.

    Only keys (``created_at``, id, read from each table's ``(account, created_at)`` index, no row
    lookups) are merged; the page's rows alone are then loaded by primary key (a deferred join).
    Keyset: at most ``size + 1`` keys of each table at any depth. Pages: see ``_offset_keys``.
    The unfiltered total is ``account_record_counts``; a filtered list counts its sources."""
    want_ledger = kind in (None, "") or kind in LedgerKind.values
    want_usage = kind in (None, "", QUOTA_KIND)
    ledger = (
        _ledger_qs(account, kind if kind in LedgerKind.values else None, start, end) if want_ledger else None
    )
    usage = _usage_qs(account, start, end) if want_usage else None
    if kind or start or end:
        counts = (ledger.count() if ledger is not None else 0, usage.count() if usage is not None else 0)
    else:
        counts = account_record_counts(account=account)
    total = counts[0] + counts[1]
    sources = [
        (src, qs, n)
        for src, qs, n in ((LEDGER, ledger, counts[0]), (USAGE, usage, counts[1]))
        if qs is not None
    ]
    if use_after:
        keys: list[Key] = []
        for src, qs, _ in sources:
            if after is not None:
                qs = qs.filter(older_than(after, inclusive=src < after.source))
            keys += _keys(qs, src, size + 1)
        keys.sort(reverse=True)
        wanted, more = keys[:size], len(keys) > size
    else:
        offset = (page - 1) * size
        wanted = _offset_keys(sources, total, offset, size)
        more = offset + len(wanted) < total
    entries = LedgerEntry.objects.order_by().in_bulk([pk for _, pk, src in wanted if src == LEDGER])
    usages = (
        QuotaUsage.objects.select_related("service")
        .order_by()
        .in_bulk([pk for _, pk, src in wanted if src == USAGE])
    )
    results = [
        ledger_record(entries[pk]) if src == LEDGER else usage_record(usages[pk])
        for _, pk, src in wanted
        if pk in (entries if src == LEDGER else usages)
    ]
    last = results[-1] if results and more else None
    next_ = None
    if last is not None:
        source = LEDGER if last["record_type"] == "ledger" else USAGE
        next_ = Cursor(last["created_at"], last["id"], source).encode(with_source=True)
    return RecordPage(total, results, next_)
