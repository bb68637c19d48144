"""A charge's claim on the prices it used: the one place that checks the price a charge (or a line
of an order) just read from a price version / rule against that row, after the row that names it
was written, and stamps the row as used (frozen).

Why after the write: MariaDB's foreign key check on the INSERT of a usage record or subscription
line (or the UPDATE of a line's rule) takes a shared lock on the named price row, held to the end
of the transaction, so from then on no editor (the admin, the plans API, a catalog import) can
change the price; what is read here is the price the row will keep naming. A difference means the
caller priced from a read taken before an editor's commit: ``PriceChangedDuringCharge`` (3611,
``transient``) rolls the transaction back and ``config.db.retry_on_conflict`` prices it again.
A price the caller did not read now (a line's price, copied into its later records, or a
corrected record's) is only stamped: it was compared when it was read. docs/plans.md, "A record
always names the price it was charged".

Stamping only unstamped rows matters on MariaDB: two workers that both UPDATE an already-stamped
row would deadlock upgrading their shared foreign-key locks. Once stamped, a row is never written
again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from plans.errors import PriceChangedDuringCharge
from plans.models import PriceRule, PriceVersion
from plans.services import price_mark_used

# (a price version's or rule's id, the price just read from it, or None when it was read earlier)
Claim = tuple[int, Decimal | None]


def prices_claim(*, versions: Iterable[Claim] = (), rules: Iterable[Claim] = (), at: datetime) -> None:
    """Compare each price read now with its row and stamp the rows used (see the module docstring).
    Raises ``PriceChangedDuringCharge`` on the first row whose price is not what was read."""
    _claim(PriceVersion, versions, stamp="version_id", at=at)
    _claim(PriceRule, rules, stamp="rule_id", at=at)


def _claim(model: Any, claims: Iterable[Claim], *, stamp: str, at: datetime) -> None:
    read: dict[int, set[Decimal]] = {}
    for pk, price in claims:
        seen = read.setdefault(pk, set())
        if price is not None:
            seen.add(price)
    if not read:
        return
    unstamped = []
    rows = model.objects.filter(pk__in=read).values_list("pk", "price", "first_used_at")
    for pk, price, first_used_at in rows:
        stale = sorted(read[pk] - {price})
        if stale:
            raise PriceChangedDuringCharge(
                f"{model._meta.verbose_name} {pk} is now {price}, the charge read {stale[0]}: "
                "the price changed while the charge was being made; retry"
            )
        if first_used_at is None:
            unstamped.append(pk)
    for pk in sorted(unstamped):
        price_mark_used(**{stamp: pk}, at=at)
