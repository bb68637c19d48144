"""Reads of the usage rollups (``usage.rollups``) for the reports (issue 21 B3).

A range ``[start, end)`` is cut at local midnights of ``TALLY_TIME_ZONE``: the whole local months
inside it are read from the month rollups, the other whole days from the day rollups, and only
the pieces of a day at either end (a range given to the minute) from the records themselves
(``usage.selectors`` does that part). A calendar month report reads one row per order and status,
whatever the number of records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet, Sum

from billing.models import Account
from config.clock import local, local_tz, next_month
from plans.models import Plan
from usage.figures import Figures, Groups, add_to
from usage.models import RollupGrain, UsageKind, UsageRollup, UsageStatus
from usage.rollups import money

# the report's grouping names -> the rollup columns: an account and a plan are read as their pks
# and named afterwards (one small query each), so no statement joins or groups by a name
COLUMNS = {"namespace": "account_id", "order_ref": "order_ref", "region": "region", "plan": "plan_key"}


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=local_tz())


@dataclass
class Split:
    """``[start, end)`` as whole local months, whole local days and the raw pieces at the ends."""

    raw: list[tuple[datetime, datetime]] = field(default_factory=list)
    months: list[date] = field(default_factory=list)  # first days of whole months
    days: list[tuple[date, date]] = field(default_factory=list)  # [first, last) of whole days

    @property
    def rolled(self) -> bool:
        return bool(self.months or self.days)


def split(start: datetime, end: datetime) -> Split:
    out = Split()
    first = local(start).date()
    if midnight(first) < start:
        first += timedelta(days=1)
    last = local(end).date()  # the day holding ``end``: the days before it are whole
    if last <= first:  # no whole day: the records, cut at the midnight between (if any)
        cut = midnight(first)
        out.raw.extend([(start, cut), (cut, end)] if start < cut < end else [(start, end)])
        return out
    if start < midnight(first):
        out.raw.append((start, midnight(first)))
    if midnight(last) < end:
        out.raw.append((midnight(last), end))
    day = first
    while day < last:
        month_end = next_month(day)
        if day.day == 1 and month_end <= last:
            out.months.append(day)
            day = month_end
            continue
        stop = min(month_end, last)
        out.days.append((day, stop))
        day = stop
    return out


def _where(parts: Split) -> Q:
    q = Q(grain=RollupGrain.MONTH, day__in=parts.months) if parts.months else Q(pk__in=[])
    for first, stop in parts.days:
        q |= Q(grain=RollupGrain.DAY, day__gte=first, day__lt=stop)
    return q


# Up to this many accounts are filtered in SQL (the (account, grain, day) index); more are read by
# the (grain, day) range and kept here: MariaDB turns an IN list of 1,000 values into a subquery
# and then scanned the whole table (B3 at 1,000,000 records: 4 s instead of milliseconds).
SQL_ACCOUNTS = 100


def _rows(parts: Split, account_ids: Iterable[int] | None, *, in_sql: bool = True) -> QuerySet[UsageRollup]:
    qs = UsageRollup.objects.filter(_where(parts), status__in=[UsageStatus.PAID, UsageStatus.ARREARS])
    if account_ids is not None and in_sql:
        qs = qs.filter(account_id__in=list(account_ids))
    return qs


def _kept(account_ids: Iterable[int] | None) -> set[int] | None:
    """The accounts to keep in Python (None: every row the statement returned is wanted)."""
    if account_ids is None:
        return None
    wanted = set(account_ids)
    return wanted if len(wanted) > SQL_ACCOUNTS else None


def _names(rows: list[tuple[object, ...]], keys: tuple[str, ...]) -> list[dict[object, str] | None]:
    """Per key position: pk -> name for the accounts and plans in ``rows`` (None: a key as it is)."""
    out: list[dict[object, str] | None] = []
    for i, k in enumerate(keys):
        pks = {r[i + 1] for r in rows}
        if k == "namespace":
            out.append(dict(Account.objects.filter(pk__in=pks).values_list("pk", "namespace")))
        elif k == "plan":
            pks.discard(0)
            out.append(dict(Plan.objects.filter(pk__in=pks).values_list("pk", "plan_id")) if pks else {})
        else:
            out.append(None)
    return out


SUMMED = ("amount_units", "discount_units", "records")


def grouped(parts: Split, keys: tuple[str, ...], account_ids: Iterable[int] | None) -> tuple[Groups, Groups]:
    """(money moved, arrears billed) per key over the rolled-up part of ``parts``: key ->
    ``Figures`` (``usage.figures``). ``keys`` are names of ``COLUMNS``; a plan is its ``plan_id``
    ("" for none).

    Per order the rollup rows of a month are nearly the groups already (one per order, kind and
    status), so they are read as they are and added up here in integers; per account the
    database groups them (by account id, status and kind: a correction is a figure of its own)."""
    moved: Groups = {}
    owed: Groups = {}
    if not parts.rolled:
        return moved, owed
    columns = [COLUMNS[k] for k in keys]
    account_ids = None if account_ids is None else list(account_ids)
    kept = _kept(account_ids) if keys[0] == "namespace" else None  # rows start with the account
    qs = _rows(parts, account_ids, in_sql=kept is None)
    if "order_ref" in keys:
        query = qs.values_list("status", *columns, "kind", *SUMMED)
    else:
        sums = {f"s{i}": Sum(c) for i, c in enumerate(SUMMED)}
        query = qs.values_list("status", *columns, "kind").annotate(**sums).order_by()
    try:
        sql = query.query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing, e.g. a caller with no accounts
        return moved, owed
    with connection.cursor() as cursor:  # plain tuples: 20,000 rows for a million records' month
        cursor.execute(*sql)
        rows = cursor.fetchall()
    if kept is not None:
        rows = tuple(r for r in rows if r[1] in kept)
    # key -> [amount, discount, records, correction amount, correction records], integer units
    totals: dict[tuple[object, ...], list[int]] = {}
    for *key, kind, amount, discount, n in rows:
        had = totals.setdefault(tuple(key), [0, 0, 0, 0, 0])
        had[0] += int(amount)
        had[1] += int(discount)
        had[2] += int(n)
        if kind == UsageKind.CORRECTION:
            had[3] += int(amount)
            had[4] += int(n)
    lookups = _names(list(totals), keys)
    for (status, *raw), (amount, discount, n, fixed, fixed_n) in totals.items():
        if n == 0:
            continue
        key = tuple(  # a list, not a generator: ~20,000 keys per report
            [
                (v or "") if lookup is None else lookup.get(v, "")
                for v, lookup in zip(raw, lookups, strict=True)
            ]
        )
        figures = Figures(money(amount), money(discount), n, money(fixed), fixed_n)
        groups = moved if status == UsageStatus.PAID else owed
        if key in groups:  # two pks of one name (none in practice), or a region "" and None
            add_to(groups, key, figures)
        else:  # the common case: the row's own group, no copy
            groups[key] = figures
    return moved, owed


def daily(parts: Split, key: str, account_ids: Iterable[int] | None) -> dict[tuple[date, str], Decimal]:
    """Money moved per (local day, key) over the rolled-up whole days of ``parts`` (a month rolled
    up as a whole is read from its days here: a series needs every day)."""
    days = Split(days=[(m, next_month(m)) for m in parts.months] + parts.days)
    out: dict[tuple[date, str], Decimal] = {}
    if not days.rolled:
        return out
    column = COLUMNS[key]
    rows = list(
        _rows(days, account_ids)
        .filter(status=UsageStatus.PAID)
        .values("day", column)
        .annotate(units=Sum("amount_units"), n=Sum("records"))
        .order_by()
    )
    (names,) = _names([(None, r[column]) for r in rows], (key,))
    for r in rows:
        if not r["n"]:
            continue
        k = (r["day"], names.get(r[column], "") if names is not None else (r[column] or ""))
        out[k] = out.get(k, Decimal(0)) + money(r["units"])
    return out
