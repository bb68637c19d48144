"""The rows of the deduct-quota hot path, written as plain parameterised SQL (the ORM's statement
building cost more CPU than the database work: docs/billing.md "Deduct ordering").

One SELECT ... FOR UPDATE locks the account row and then its quota row of the month (the house
lock order, account first, in one round trip); a free call UPDATEs the quota row (counting the
usage there when it paid nothing); every call INSERTs its usage row. The returned objects are the
same as the ORM's.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from billing.errors import AccountNotFound
from billing.models import Account, LedgerEntry, MonthlyQuota, QuotaUsage
from billing.quota_cache import forget_on_commit
from plans.models import MeteredService


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


_SQL: dict[str, dict[str, str]] = {}
_USAGE_FIELDS = (
    "account",
    "service",
    "quota",
    "request_id",
    "count",
    "free_count",
    "paid_count",
    "unit_price",
    "amount",
    "balance_after",
    "ledger_entry",
    "created_at",
)


def _statements() -> dict[str, str]:
    """The hot path's statements, quoted for the current database (built once per vendor)."""
    sql = _SQL.get(connection.vendor)
    if sql is not None:
        return sql
    a, q, u = Account._meta, MonthlyQuota._meta, QuotaUsage._meta
    ta, tq, tu = _quote(a.db_table), _quote(q.db_table), _quote(u.db_table)
    ca = {f.name: _quote(f.column) for f in a.concrete_fields}
    cq = {f.name: _quote(f.column) for f in q.concrete_fields}
    cu = {f.name: _quote(f.column) for f in u.concrete_fields}
    for_update = " FOR UPDATE" if connection.features.has_select_for_update else ""
    # Identifiers come from the models' _meta, every value is a placeholder. LEFT JOIN: the account
    # row is read (and locked) first, then its quota row if there is one: the house lock order
    # (account, then everything else) in one round trip.
    lock = (
        f"SELECT a.{ca['id']}, a.{ca['balance']}, q.{cq['id']}, q.{cq['total']}, q.{cq['used']} "  # noqa: S608
        f"FROM {ta} a LEFT JOIN {tq} q ON q.{cq['account']} = a.{ca['id']} "
        f"AND q.{cq['service']} = %s AND q.{cq['month']} = %s WHERE a.{{where}} = %s{for_update}"
    )
    sql = {
        "lock_by_id": lock.format(where=ca["id"]),
        "lock_by_namespace": lock.format(where=ca["namespace"]),
        "use_free": (
            f"UPDATE {tq} SET {cq['used']} = %s, "  # noqa: S608
            f"{cq['free_usage_count']} = {cq['free_usage_count']} + %s WHERE {cq['id']} = %s"
        ),
        "insert_usage": (
            f"INSERT INTO {tu} ({', '.join(cu[f] for f in _USAGE_FIELDS)}) "  # noqa: S608
            f"VALUES ({', '.join(['%s'] * len(_USAGE_FIELDS))})"
        ),
    }
    return _SQL.setdefault(connection.vendor, sql)


def _balance_from_db(value: Any) -> Decimal:
    """``Account.balance`` read by a plain cursor, through the backend's own converters (what the
    ORM would apply: nothing on MariaDB, which returns a ``Decimal``; the DECIMAL converter on
    SQLite, whose numeric column comes back as int or float)."""
    field: Any = Account._meta.get_field("balance")
    column = field.cached_col
    for convert in connection.ops.get_db_converters(column) + field.get_db_converters(connection):
        value = convert(value, column, connection)
    return Decimal(value)


def lock_account_and_quota(
    *, account_id: int | None, namespace: str | None, svc: MeteredService | None, month: date
) -> tuple[Account, int | None, int, int]:
    """Lock the account row and its quota row of ``month`` (if it exists) in one statement.
    Returns the account (``id`` and ``balance`` loaded) and the quota row's id, total and used."""
    sql = _statements()
    by_id = account_id is not None
    with connection.cursor() as cursor:
        cursor.execute(
            sql["lock_by_id" if by_id else "lock_by_namespace"],
            [
                svc.pk if svc else None,
                connection.ops.adapt_datefield_value(month),
                account_id if by_id else namespace,
            ],
        )
        row = cursor.fetchone()
    if row is None:
        if by_id:
            raise AccountNotFound(f"account {account_id} not found")
        raise AccountNotFound(f"namespace {namespace} not found", errors={"namespace": ["unknown namespace"]})
    account = Account.from_db(connection.alias, ["id", "balance"], [row[0], _balance_from_db(row[1])])
    return account, row[2], row[3] or 0, row[4] or 0


def create_quota_row(*, account_id: int, svc: MeteredService, month: date) -> MonthlyQuota:
    """First use of the month: create the row and lock it. The month-opening task may insert the
    same row concurrently without the account lock: ``INSERT IGNORE`` waits for its commit, then
    does nothing, and the row is read (locked) again; no savepoint inside the caller's transaction."""
    MonthlyQuota.objects.bulk_create(
        [MonthlyQuota(account_id=account_id, service=svc, month=month, total=svc.monthly_free_quota)],
        ignore_conflicts=True,
    )
    return MonthlyQuota.objects.select_for_update().get(account_id=account_id, service=svc, month=month)


def record_usage(
    *,
    account: Account,
    svc: MeteredService,
    quota_id: int,
    used: int,
    request_id: str,
    count: int,
    free: int,
    amount: Decimal,
    entry: LedgerEntry | None,
) -> QuotaUsage:
    """Use ``free`` calls of the locked quota row and insert the usage row; return it. A usage that
    paid nothing (no ``entry``) is counted on the quota row by the same UPDATE (one that paid was
    counted by its entry's UPDATE of the account row: ``Account.paid_quota_usage_count``); only a
    usage of neither kind, all paid calls at a unit price of 0, costs an UPDATE of its own."""
    sql = _statements()
    now = timezone.now()
    values: dict[str, Any] = {
        "account_id": account.pk,
        "service_id": svc.pk,
        "quota_id": quota_id,
        "request_id": request_id,
        "count": count,
        "free_count": free,
        "paid_count": count - free,
        "unit_price": svc.unit_price,
        "amount": amount,
        "balance_after": account.balance,
        "ledger_entry_id": entry.pk if entry is not None else None,
    }
    with connection.cursor() as cursor:
        unpaid = entry is None
        if free or unpaid:
            cursor.execute(sql["use_free"], [used + free, int(unpaid), quota_id])
        if free:
            forget_on_commit((account.pk,))
        cursor.execute(sql["insert_usage"], [*values.values(), connection.ops.adapt_datetimefield_value(now)])
        usage_id = cursor.lastrowid
    usage = QuotaUsage(id=usage_id, **values, created_at=now)
    usage._state.adding = False
    usage._state.db = connection.alias
    usage.service = svc
    if entry is not None:
        usage.ledger_entry = entry
    return usage


def quota_usage_counts_rebuild(*, account_ids: list[int] | None = None) -> int:
    """Recount ``Account.paid_quota_usage_count`` and ``MonthlyQuota.free_usage_count`` from the
    usage rows (all accounts, or ``account_ids``): the repair after rows written outside
    ``record_usage`` and the batch (a restore, a benchmark's raw inserts). Two UPDATEs with a
    correlated count; returns the accounts updated."""
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    def counted(parent: str, *, paid: bool) -> Subquery:
        usages = QuotaUsage.objects.filter(**{parent: OuterRef("pk")}, ledger_entry__isnull=not paid)
        return Subquery(usages.order_by().values(parent).annotate(n=Count("id")).values("n"))

    accounts = Account.objects.all() if account_ids is None else Account.objects.filter(pk__in=account_ids)
    quotas = (
        MonthlyQuota.objects.all()
        if account_ids is None
        else MonthlyQuota.objects.filter(account_id__in=account_ids)
    )
    quotas.update(free_usage_count=Coalesce(counted("quota_id", paid=False), 0))
    return accounts.update(paid_quota_usage_count=Coalesce(counted("account_id", paid=True), 0))
