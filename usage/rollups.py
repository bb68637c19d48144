"""Daily and monthly rollups of usage records (issue 21 B3): what a report sums, kept current.

One ``UsageRollup`` row holds the amount (net) and the discount (in integer units of 1/10000, exact
on every database) and the count of the records sharing a bucket: the local day of
``TALLY_TIME_ZONE`` (grain ``d``) or its month (grain ``m``, ``day`` = the 1st) of the record's
*moment*, and the record's account, source, order, region, plan (pk, 0 for none), kind and status.
The moment is the one the reports use (``usage.selectors``): a paid record's ledger entry's
``created_at``, else its ``paid_at``; any other record (and a paid one with neither) its
``created_at``.

Every write of ``UsageRecord`` goes through this module, inside the writer's transaction: the
model's ``save``/``delete`` and its queryset's ``update``/``bulk_create``/``delete``
(``usage.models.UsageRecordQuerySet``) call :func:`added`, :func:`removed` or :func:`changed`,
so a writer cannot forget it (docs/decisions.md). An update locks the records it changes
(``SELECT ... FOR UPDATE``), reads their contributions, updates them, reads them again and applies
the difference: a status change (``unpaid`` -> ``paid``) moves the amount between buckets. The
deltas of one statement are summed per bucket and written in ONE upsert per chunk (sorted by key:
concurrent writers lock rollup rows in the same order), ``INSERT ... ON DUPLICATE KEY UPDATE`` on
MariaDB, ``INSERT ... ON CONFLICT DO UPDATE`` on SQLite: the increment is atomic, so concurrent
writers to one account and day never lose a delta.

``rebuild(start, end)`` (``manage.py rebuild_rollups``) recomputes the buckets of a range from the
records in one grouped statement (``usage.rollup_recompute``, computed apart from the Python
path above, which ``drift`` checks): the repair after a raw write, a restore, or a change of
``TALLY_TIME_ZONE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from config.clock import local
from usage.models import RollupGrain, UsageRecord, UsageRollup, UsageStatus
from usage.rollup_recompute import recomputed

UNITS = Decimal(10000)
CHUNK = 1000  # records per read, buckets per upsert statement
# (day, account_id, source, order_ref, region, plan_key, kind, status)
Bucket = tuple[date, int, str, str, str, int, str, str]
Deltas = dict[Bucket, tuple[int, int, int]]  # bucket -> (amount units, discount units, records)
# a record's contribution: its bucket, amount and discount in units
Contribution = tuple[Bucket, int, int]
FIELDS = (
    "pk",
    "account_id",
    "source",
    "order_ref",
    "region",
    "plan_id",
    "kind",
    "status",
    "amount",
    "created_at",
    "paid_at",
    "ledger_entry_id",
    "discount",  # last: the positions above are the ones ``_contributions`` reads
)
STATUS, ENTRY = FIELDS.index("status"), FIELDS.index("ledger_entry_id")
# the fields of a record a rollup depends on: an update touching none of them changes no bucket
ROLLED_FIELDS = frozenset(
    {
        "account",
        "account_id",
        "source",
        "order_ref",
        "region",
        "plan",
        "plan_id",
        "kind",
        "status",
        "amount",
        "created_at",
        "paid_at",
        "ledger_entry",
        "ledger_entry_id",
        "discount",
    }
)
COLUMNS = ("grain", "day", "account_id", "source", "order_ref", "region", "plan_key", "kind", "status")


def units(amount: Decimal) -> int:
    return int((Decimal(amount) * UNITS).to_integral_value())


def money(value: int | Decimal | None) -> Decimal:
    """Units of 1/10000 as money: the same value and exponent as dividing by 10000 and quantizing
    to 4 places, by moving the exponent (a report converts ~60,000 sums; B3)."""
    return Decimal(int(value or 0)).scaleb(-4)


def _moment(
    status: str, entry_at: datetime | None, paid_at: datetime | None, created_at: datetime
) -> datetime:
    if status == UsageStatus.PAID:
        if entry_at is not None:
            return entry_at
        if paid_at is not None:
            return paid_at
    return created_at


def _entry_times(entry_ids: set[int]) -> dict[int, datetime]:
    from billing.models import LedgerEntry

    found: dict[int, datetime] = {}
    ids = sorted(entry_ids)
    for start in range(0, len(ids), CHUNK):
        found.update(
            LedgerEntry.objects.filter(pk__in=ids[start : start + CHUNK]).values_list("pk", "created_at")
        )
    return found


def _contributions(
    rows: Sequence[tuple[Any, ...]], known: dict[int, datetime] | None = None
) -> dict[int, Contribution]:
    """``rows`` of ``FIELDS`` values -> record pk -> (bucket, units); ``known``: ledger entry
    times already in memory (the rest are read in one query)."""
    known = known or {}
    wanted = {r[ENTRY] for r in rows if r[ENTRY] is not None and r[STATUS] == UsageStatus.PAID} - set(known)
    entries = {**known, **_entry_times(wanted)}
    out: dict[int, Contribution] = {}
    for (
        pk,
        account_id,
        source,
        order_ref,
        region,
        plan_id,
        kind,
        status,
        amount,
        created,
        paid,
        entry,
        discount,
    ) in rows:
        moment = _moment(status, entries.get(entry) if entry else None, paid, created)
        bucket = (
            local(moment).date(),
            account_id,
            str(source),  # a TextChoices member hashes apart from its value: keys are plain strings
            order_ref,
            region or "",
            plan_id or 0,
            str(kind),
            str(status),
        )
        out[pk] = (bucket, units(amount), units(discount))
    return out


def snapshot(ids: Iterable[int], *, lock: bool = False) -> dict[int, Contribution]:
    """The contributions of the records ``ids`` as the database holds them (locked with ``lock``)."""
    wanted = sorted(set(ids))
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(wanted), CHUNK):
        qs = UsageRecord.objects.filter(pk__in=wanted[start : start + CHUNK]).order_by("pk")
        if lock:
            qs = qs.select_for_update()
        rows.extend(qs.values_list(*FIELDS))
    return _contributions(rows)


def of_objects(records: Sequence[UsageRecord]) -> dict[int, Contribution]:
    """The contributions of records in memory (just inserted: their values are the row's); keyed
    by position when the database did not return primary keys (MariaDB's ``bulk_create``)."""
    rows = [tuple(getattr(r, f) for f in FIELDS[1:]) for r in records]
    cached = UsageRecord.ledger_entry.is_cached  # type: ignore[attr-defined]
    known = {
        entry.pk: entry.created_at
        for r in records
        if r.ledger_entry_id and cached(r) and (entry := r.ledger_entry) is not None
    }
    return _contributions([(i, *row) for i, row in enumerate(rows)], known)


def add_rows(rows: Iterable[tuple[Any, ...]]) -> int:
    """Roll up records written by raw SQL (a bulk load, the benchmarks): each row the values of
    ``FIELDS`` (aware datetimes; ``discount`` included) followed by its ledger entry's
    ``created_at`` (or None). Applied in one pass of upserts at the end; returns the records
    counted."""
    deltas: Deltas = {}
    batch: list[tuple[Any, ...]] = []
    count = 0

    def flush() -> None:
        width = len(FIELDS)
        known = {r[ENTRY]: r[width] for r in batch if r[ENTRY] is not None and r[width] is not None}
        _add(deltas, _contributions([r[:width] for r in batch], known).values(), 1)
        batch.clear()

    for row in rows:
        batch.append(row)
        count += 1
        if len(batch) >= 50_000:
            flush()
    flush()
    apply(deltas)
    return count


def _add(deltas: Deltas, contributions: Iterable[Contribution], sign: int) -> None:
    for bucket, amount, discount in contributions:
        had_units, had_discount, had_n = deltas.get(bucket, (0, 0, 0))
        deltas[bucket] = (had_units + sign * amount, had_discount + sign * discount, had_n + sign)


def added(records: Sequence[UsageRecord]) -> None:
    """Records just inserted (``save``, ``bulk_create``)."""
    deltas: Deltas = {}
    _add(deltas, of_objects(records).values(), 1)
    apply(deltas)


def removed(before: dict[int, Contribution]) -> None:
    deltas: Deltas = {}
    _add(deltas, before.values(), -1)
    apply(deltas)


def changed(before: dict[int, Contribution], after: dict[int, Contribution]) -> None:
    """Records updated: their old contributions out, the new ones in (only what moved)."""
    deltas: Deltas = {}
    _add(deltas, (c for pk, c in before.items() if after.get(pk) != c), -1)
    _add(deltas, (c for pk, c in after.items() if before.get(pk) != c), 1)
    apply(deltas)


# what an update may set and still be followed without reading the rows again (exact values)
FOLLOWED = frozenset({"status", "paid_at", "ledger_entry", "ledger_entry_id"})


def _after(rows: list[tuple[Any, ...]], kwargs: dict[str, Any]) -> dict[int, Contribution] | None:
    """The contributions of ``rows`` once ``kwargs`` (a status change, a payment) are applied, or
    None when the update sets anything else (an expression, an amount): then the rows are read."""
    if not kwargs.keys() <= FOLLOWED or any(hasattr(v, "resolve_expression") for v in kwargs.values()):
        return None
    known: dict[int, datetime] = {}
    at = {f: i for i, f in enumerate(FIELDS)}
    values: dict[int, Any] = {}
    for name, value in kwargs.items():
        if name == "ledger_entry":
            if value is not None:
                known[value.pk] = value.created_at
            value = None if value is None else value.pk
            name = "ledger_entry_id"
        values[at[name]] = value
    changed_rows = [tuple(values.get(i, v) for i, v in enumerate(row)) for row in rows]
    return _contributions(changed_rows, known)


def tracked_update(qs: QuerySet[UsageRecord], kwargs: dict[str, Any]) -> int:
    """``qs.update(**kwargs)`` with the rollups following it: the rows of ``qs`` are read locked,
    then exactly those rows are updated (by primary key: a row committed meanwhile by another
    writer, READ COMMITTED has no gap locks, is not changed unseen), their new contributions
    computed (a status change or a payment) or read again, and the difference applied."""
    with transaction.atomic(using=qs.db, savepoint=False):
        rows = list(qs.select_for_update().order_by("pk").values_list(*FIELDS))
        before = _contributions(rows)
        ids = sorted(before)
        n = 0
        for start in range(0, len(ids), CHUNK):
            chunk = UsageRecord.objects.using(qs.db).filter(pk__in=ids[start : start + CHUNK])
            n += QuerySet.update(chunk, **kwargs)
        after = _after(rows, kwargs)
        changed(before, snapshot(ids) if after is None else after)
    return n


# --- the upsert -----------------------------------------------------------------------------------


def _rows(deltas: Deltas) -> list[tuple[Any, ...]]:
    """Day and month rows of the non-zero deltas, summed per key, in key order."""
    rows: dict[tuple[Any, ...], tuple[int, int, int]] = {}
    for (day, *rest), sums in deltas.items():
        if sums == (0, 0, 0):
            continue
        amount, discount, n = sums
        for grain, at in ((RollupGrain.DAY, day), (RollupGrain.MONTH, day.replace(day=1))):
            key = (str(grain), at, *rest)
            had_units, had_discount, had_n = rows.get(key, (0, 0, 0))
            rows[key] = (had_units + amount, had_discount + discount, had_n + n)
    return [(*key, *sums) for key, sums in sorted(rows.items()) if sums != (0, 0, 0)]


def _upsert_sql(count: int) -> str:
    quote = connection.ops.quote_name
    table = quote(UsageRollup._meta.db_table)
    columns = [*COLUMNS, "amount_units", "discount_units", "records"]
    one = f"({', '.join(['%s'] * len(columns))})"
    head = f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) VALUES {', '.join([one] * count)}"  # noqa: S608
    summed = [quote(c) for c in ("amount_units", "discount_units", "records")]
    if connection.vendor == "mysql":
        return f"{head} ON DUPLICATE KEY UPDATE " + ", ".join(f"{c} = {c} + VALUES({c})" for c in summed)
    keys = ", ".join(quote(c) for c in COLUMNS)
    increments = ", ".join(f"{c} = {c} + excluded.{c}" for c in summed)
    return f"{head} ON CONFLICT ({keys}) DO UPDATE SET {increments}"


def apply(deltas: Deltas) -> None:
    """Add ``deltas`` to the rollups: one atomic upsert per ``CHUNK`` buckets, in key order."""
    rows = _rows(deltas)
    if not rows:
        return
    adapt = connection.ops.adapt_datefield_value
    with connection.cursor() as cursor:
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params: list[Any] = []
            for row in chunk:
                params.extend((row[0], adapt(row[1]), *row[2:]))
            cursor.execute(_upsert_sql(len(chunk)), params)


# --- repair ---------------------------------------------------------------------------------------


def rebuild(*, start: date | None = None, end: date | None = None) -> int:
    """Recompute the rollups of the local days ``[start, end]`` (whole months when a bound cuts
    one: a month row sums its days) from the records, in one transaction. Returns the buckets."""
    if start is not None:
        start = start.replace(day=1)
    if end is not None:
        end = _month_end(end)
    with transaction.atomic():
        gone = UsageRollup.objects.all()
        if start is not None:
            gone = gone.filter(day__gte=start)
        if end is not None:
            gone = gone.filter(day__lte=end)
        gone.delete()
        deltas = recomputed(start=start, end=end)
        apply(deltas)
    return len(deltas)


def _month_end(day: date) -> date:
    import calendar

    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def day_rows() -> Deltas:
    """The day rollups as they are (rows that sum to nothing left out)."""
    rows = UsageRollup.objects.filter(grain=RollupGrain.DAY).values_list(
        *COLUMNS[1:], "amount_units", "discount_units", "records"
    )
    sums = {tuple(r[:-3]): (int(r[-3]), int(r[-2]), int(r[-1])) for r in rows}
    return {k: v for k, v in sums.items() if v != (0, 0, 0)}  # type: ignore[misc]


Sums = tuple[int, int, int]


def drift() -> dict[Bucket, tuple[Sums, Sums]]:
    """Day buckets whose rollup differs from the records: bucket -> (rollup, records), each
    (amount units, discount units, records). Empty when the rollups are right (the tests'
    strongest check: the database's grouping of the records against what the incremental path
    wrote; the audit compares totals)."""
    none = (0, 0, 0)
    have, want = day_rows(), recomputed()
    return {
        k: (have.get(k, none), want.get(k, none)) for k in set(have) | set(want) if have.get(k) != want.get(k)
    }
