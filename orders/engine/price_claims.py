"""A charge's claim on the prices it used: the one place that checks a new usage record's unit
price against the price version / rule it names and stamps that row as used (frozen).

Why after the insert: MariaDB's foreign key check takes a shared lock on the named price row, held
to the end of the transaction, so from the insert on no editor (the admin, the plans API, a
catalog import) can change the price; what this module reads is then the price the record will
keep naming. docs/plans.md, "Used prices are frozen".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from plans.errors import PriceChangedDuringCharge
from plans.models import PriceRule, PriceVersion
from plans.services import price_mark_used
from usage.models import UsageRecord


def record_prices_claim(
    *, records: Sequence[UsageRecord], at: datetime, price_read: Decimal | None = None
) -> None:
    """Check each new record's unit price against its price version / rule, then stamp the
    unstamped ones as used (a used price is frozen: ``price_mark_used``).

    Runs after the records are inserted, in their transaction. Each insert holds a shared lock on
    the price row it names (the foreign key check), so no editor can change the price until this
    transaction ends, and an edit that committed before the insert is what this read sees. A record
    priced from a read taken before such a commit differs from the row: ``PriceChangedDuringCharge``
    rolls the charge back and a retry prices it again (``config.db.retry_on_conflict``).
    ``price_read``: the price the records were computed from when it is not their unit price.

    Stamping only unstamped rows matters on MariaDB: two workers that both UPDATE an already-stamped
    row would deadlock upgrading their shared foreign-key locks. Once stamped, a row is never
    written again.
    """

    def read_of(record: UsageRecord) -> Decimal:
        return record.unit_price if price_read is None else price_read

    _claim(PriceVersion, records=records, read_of=read_of, ref="price_version_id", stamp="version_id", at=at)
    _claim(PriceRule, records=records, read_of=read_of, ref="price_rule_id", stamp="rule_id", at=at)


def _claim(
    model: Any,
    *,
    records: Sequence[UsageRecord],
    read_of: Callable[[UsageRecord], Decimal],
    ref: str,
    stamp: str,
    at: datetime,
) -> None:
    read: dict[int, set[Decimal]] = {}
    for record in records:
        if pk := getattr(record, ref):
            read.setdefault(pk, set()).add(read_of(record))
    if not read:
        return
    unstamped = []
    rows = model.objects.filter(pk__in=read).values_list("pk", "price", "first_used_at")
    for pk, price, first_used_at in rows:
        if read[pk] != {price}:
            stale = sorted(read[pk] - {price})
            raise PriceChangedDuringCharge(
                f"{model._meta.verbose_name} {pk} is now {price}, the charge read {stale[0]}: "
                "the price changed while the charge was being made; retry"
            )
        if first_used_at is None:
            unstamped.append(pk)
    for pk in sorted(unstamped):
        price_mark_used(**{stamp: pk}, at=at)
