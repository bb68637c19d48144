"""Reads for the billing API: the wallet view and the merged records list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from billing.models import Account, LedgerEntry, LedgerKind, MonthlyQuota, QuotaUsage
from config import clock
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


def account_records(
    *,
    account: Account,
    kind: str | None,
    start: datetime | None,
    end: datetime | None,
    page: int,
    size: int,
) -> tuple[int, list[dict[str, Any]]]:
    """Ledger entries and quota usage records, newest first, paged over the merged list.

    Each source is cut to its first ``page * size`` rows before merging, and only their keys
    (``created_at``, id: read from the ``(account, created_at)`` index, no row lookups) are merged;
    the page's rows alone are then loaded by primary key (a deferred join). A page costs two key
    reads, two row reads of at most ``size`` rows and two counts. Equal keys: the ledger entry
    first (as before)."""
    want_ledger = kind in (None, "") or kind in LedgerKind.values
    want_usage = kind in (None, "", QUOTA_KIND)
    ledger = (
        _ledger_qs(account, kind if kind in LedgerKind.values else None, start, end) if want_ledger else None
    )
    usage = _usage_qs(account, start, end) if want_usage else None
    total = (ledger.count() if ledger is not None else 0) + (usage.count() if usage is not None else 0)
    limit = page * size
    keys: list[tuple[Any, int, int]] = []  # (created_at, id, 1 for a ledger entry / 0 for a usage)
    if ledger is not None:
        keys += [(at, pk, 1) for at, pk in ledger.values_list("created_at", "pk")[:limit]]
    if usage is not None:
        keys += [(at, pk, 0) for at, pk in usage.values_list("created_at", "pk")[:limit]]
    keys.sort(reverse=True)
    wanted = keys[(page - 1) * size : limit]
    entries = LedgerEntry.objects.in_bulk([pk for _, pk, src in wanted if src == 1])
    usages = QuotaUsage.objects.select_related("service").in_bulk([pk for _, pk, src in wanted if src == 0])
    return total, [
        ledger_record(entries[pk]) if src == 1 else usage_record(usages[pk]) for _, pk, src in wanted
    ]
