"""Paging of newest-first lists ordered by ``(created_at, id)`` that stay fast at any depth (B7).

Two ways to a page, both reading the page's ids from the list's covering index (``(account,
created_at)``: InnoDB appends the primary key to every secondary index, so the index is ordered by
``(account, created_at, id)``) and then only the page's rows by primary key (a deferred join):

- ``after=<cursor>`` (keyset): the rows strictly after the last row of the previous page, a range
  seek on the index, so any depth costs what the first page costs. The cursor is opaque to clients:
  URL-safe base64 of ``<created_at in microseconds since 1970 UTC>.<id>[.<source>]`` (``source``
  tells the two tables of a merged list apart). It carries a position, not a permission: the list
  it is applied to is filtered by the caller's account as without it.
- ``page``/``size`` (kept for compatibility): ``LIMIT/OFFSET`` over the index entries alone, from
  the nearer end of the list (a page in the older half is read ascending from the oldest row, then
  reversed: no request walks more than half of the index; B5's technique). It needs the list's
  exact ``total``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Q, QuerySet

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)
MAX_CURSOR_LENGTH = 100
BAD_CURSOR = "invalid cursor: pass the `next` of a previous page unchanged"


@dataclass(frozen=True)
class Cursor:
    """A position in a newest-first list: the last row of a page (``source``: which table, in a
    merged list; 0 elsewhere)."""

    at: datetime
    pk: int
    source: int = 0

    def encode(self, *, with_source: bool = False) -> str:
        micros = (self.at - EPOCH) // ONE_MICROSECOND
        raw = f"{micros}.{self.pk}" + (f".{self.source}" if with_source else "")
        return base64.urlsafe_b64encode(raw.encode("ascii")).rstrip(b"=").decode("ascii")


def cursor_decode(token: str, *, sources: int = 1) -> Cursor | None:
    """The cursor of ``token``, or None if it is not one this server wrote (the caller reports
    ``after`` as invalid). ``sources`` > 1: a merged list's cursor, which names its source."""
    if not token or len(token) > MAX_CURSOR_LENGTH or not token.isascii():
        return None
    try:
        parts = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii").split(".")
        if len(parts) != (3 if sources > 1 else 2) or not all(p.isdigit() for p in parts):
            return None
        at = EPOCH + int(parts[0]) * ONE_MICROSECOND
        pk, source = int(parts[1]), int(parts[2]) if sources > 1 else 0
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        return None
    if source >= sources or pk > 2**63 - 1:
        return None
    return Cursor(at, pk, source)


def older_than(cursor: Cursor, *, field: str = "created_at", inclusive: bool = False) -> Q:
    """Rows after ``cursor`` in ``(field, id)`` descending order (``inclusive``: and the cursor's
    own key, for the later source of a merged list)."""
    id_lookup = "id__lte" if inclusive else "id__lt"
    return Q(**{f"{field}__lt": cursor.at}) | Q(**{field: cursor.at, id_lookup: cursor.pk})


def page_ids(qs: QuerySet, *, total: int, offset: int, limit: int, field: str = "created_at") -> list[int]:
    """Ids of rows ``offset .. offset+limit`` of ``qs`` (ordered ``-field, -id``), read from the
    nearer end of its index; ``total`` must be the exact length of ``qs``."""
    if offset >= total or limit <= 0:
        return []
    end = min(offset + limit, total)
    if total - offset < end:  # the older half: from the oldest row
        ids = list(qs.order_by(field, "id").values_list("id", flat=True)[total - end : total - offset])
        ids.reverse()
        return ids
    return list(qs.values_list("id", flat=True)[offset:end])


def ids_after(
    qs: QuerySet, cursor: Cursor | None, *, limit: int, field: str = "created_at"
) -> tuple[list[int], bool]:
    """(ids of the ``limit`` rows of ``qs`` after ``cursor``, from the top when None; whether more
    follow), by keyset on ``(field, id)``."""
    if cursor is not None:
        qs = qs.filter(older_than(cursor, field=field))
    ids = list(qs.values_list("id", flat=True)[: limit + 1])
    return ids[:limit], len(ids) > limit
