"""Reads of the usages list (``GET /usageapi/v1/usages``) that cost the same at any depth (B7).

A page is found on the ``(account, created_at)`` index alone (ids only), then its rows are read by
primary key: by keyset after a cursor (``after=``), or by ``page``/``size`` from the nearer end of
the index (``config.keyset``). The unfiltered ``total`` comes from ``usage_record_total`` (the
monthly rollups' record counts); a filtered list (order, region, time) counts its narrower index
range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet, Sum

from config.keyset import Cursor, ids_after, page_ids
from usage.models import RollupGrain, UsageRecord, UsageRollup
from usage.selectors import usage_records


@dataclass(frozen=True)
class UsagePage:
    total: int
    rows: list[UsageRecord]
    next: str | None  # the cursor of the rows after this page (None: the last page)


def usage_record_total(*, account_id: int) -> int:
    """How many usage records the account has: the sum of its monthly rollups' record counts
    (``usage.rollups``, kept in every writer's transaction), a few rows per order and month instead
    of ``COUNT(*)`` over the records (B7). Every unfiltered list total reads it here."""
    months = UsageRollup.objects.filter(account_id=account_id, grain=RollupGrain.MONTH)
    return int(months.aggregate(n=Sum("records"))["n"] or 0)


def _rows(ids: list[int]) -> list[UsageRecord]:
    rows = UsageRecord.objects.select_related("account", "plan").order_by().in_bulk(ids)
    return [rows[pk] for pk in ids if pk in rows]


def _page(total: int, rows: list[UsageRecord], more: bool) -> UsagePage:
    last = rows[-1] if rows and more else None
    return UsagePage(total, rows, Cursor(last.created_at, last.pk).encode() if last else None)


def usage_record_page(
    *,
    account_id: int,
    order_refs: list[str] | None = None,
    region: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    page: int = 1,
    size: int = 30,
    after: Cursor | None = None,
    use_after: bool = False,
) -> UsagePage:
    """One page of the account's records, newest first: after ``after`` (keyset; from the top when
    None) if ``use_after``, else page ``page`` of ``size``."""
    qs: QuerySet[UsageRecord] = usage_records(
        account_ids=[account_id], order_refs=order_refs, region=region, start=start, end=end
    )
    filtered = bool(order_refs is not None or region or start or end)
    total = qs.count() if filtered else usage_record_total(account_id=account_id)
    if use_after:
        ids, more = ids_after(qs, after, limit=size)
        return _page(total, _rows(ids), more)
    offset = (page - 1) * size
    rows = _rows(page_ids(qs, total=total, offset=offset, limit=size))
    return _page(total, rows, offset + len(rows) < total)
