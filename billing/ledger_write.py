"""The one write of a posting, on an account row the caller has locked: check funds, UPDATE the
balance, INSERT the ledger entry.

The write is two plain parameterised statements rather than ``save()``/``create()``: it runs on
every paid API call while the account row is locked, and the ORM's statement building cost several
times the database work there (B2 in docs/benchmarks.md). The rows and the returned
``LedgerEntry`` are the same as the ORM's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone

from billing.acting import check_caller_may_move
from billing.models import Account, LedgerEntry
from billing.quota_cache import forget_on_commit
from config.exceptions import InsufficientFunds, InvalidInput
from config.money import to_money

_ENTRY_FIELDS = (
    "account",
    "amount",
    "balance_after",
    "kind",
    "subject_type",
    "subject_id",
    "actor",
    "memo",
    "idempotency_key",
    "created_at",
)
_SQL: dict[str, tuple[str, str]] = {}


def check_idempotency_key(idempotency_key: str) -> None:
    """Every posting carries a key of 1-255 characters (3307 otherwise)."""
    if not idempotency_key or len(idempotency_key) > 255:
        raise InvalidInput(
            "idempotency key must be 1-255 characters", errors={"idempotency_key": ["required"]}
        )


def positive_amount(amount: Decimal, field: str = "amount") -> Decimal:
    """``amount`` as money, refused (3307 on ``field``) if negative."""
    amount = to_money(amount)
    if amount < 0:
        raise InvalidInput(f"{field} must be >= 0", errors={field: ["must be >= 0"]})
    return amount


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


def _write_sql() -> tuple[str, str]:
    """The UPDATE and INSERT of a posting, quoted for the current database. Identifiers come from
    the models' ``_meta``; every value is a placeholder."""
    a, e = Account._meta, LedgerEntry._meta
    col = {f.name: _quote(f.column) for f in e.concrete_fields}
    update = (
        f"UPDATE {_quote(a.db_table)} SET {_quote('balance')} = %s, {_quote('updated_at')} = %s, "  # noqa: S608
        f"{_quote('ledger_entry_count')} = {_quote('ledger_entry_count')} + 1, "
        f"{_quote('paid_quota_usage_count')} = {_quote('paid_quota_usage_count')} + %s "
        f"WHERE {_quote('id')} = %s"
    )
    insert = (
        f"INSERT INTO {_quote(e.db_table)} ({', '.join(col[f] for f in _ENTRY_FIELDS)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(_ENTRY_FIELDS))})"
    )
    return update, insert


def _funded_balance(account: Account, amount: Decimal) -> Decimal:
    """The balance after ``amount``; ``InsufficientFunds`` (nothing written) if it would be < 0."""
    new_balance = account.balance + amount
    if new_balance < 0:
        raise InsufficientFunds(
            f"insufficient balance: {account.balance} available, {-amount} needed",
            balance=str(account.balance),
            required=str(-amount),
        )
    return new_balance


def write_posting(
    *,
    account: Account,
    amount: Decimal,
    kind: str,
    idempotency_key: str,
    subject: tuple[str, Any] | None,
    actor: Any,
    memo: str,
    pays_quota_usage: bool = False,
) -> LedgerEntry:
    """Check funds, save the new balance and insert the entry, on a row locked by the caller
    (``account.balance`` must be the locked row's balance; it is updated in place). A tenant API
    call's caller must be a member of the account now (``billing.acting``). ``pays_quota_usage``:
    the entry pays a quota usage, counted in ``Account.paid_quota_usage_count`` by the same UPDATE."""
    check_caller_may_move(account.pk)
    subject_type, subject_id = (subject[0], str(subject[1])) if subject else ("", "")
    new_balance = _funded_balance(account, amount)
    sql = _SQL.get(connection.vendor) or _SQL.setdefault(connection.vendor, _write_sql())
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    memo = memo[:500]
    actor_id = actor.pk if actor is not None else None
    with connection.cursor() as cursor:
        cursor.execute(sql[0], [new_balance, at, int(pays_quota_usage), account.pk])
        cursor.execute(
            sql[1],
            [
                account.pk,
                amount,
                new_balance,
                kind,
                subject_type,
                subject_id,
                actor_id,
                memo,
                idempotency_key,
                at,
            ],
        )
        entry_id = cursor.lastrowid
    account.balance = new_balance
    account.updated_at = now
    forget_on_commit((account.pk,))
    return _saved_entry(
        LedgerEntry(
            id=entry_id,
            account=account,
            amount=amount,
            balance_after=new_balance,
            kind=kind,
            subject_type=subject_type,
            subject_id=subject_id,
            actor=actor,
            memo=memo,
            idempotency_key=idempotency_key,
            created_at=now,
        )
    )


def _saved_entry(entry: LedgerEntry) -> LedgerEntry:
    """Mark an entry built from the row just inserted as loaded from the database (as ``create``
    would leave it), so saving or comparing it behaves like any fetched entry."""
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def ledger_entry_counts_rebuild(*, account_ids: list[int] | None = None) -> int:
    """Recount ``Account.ledger_entry_count`` from the ledger (all accounts, or ``account_ids``):
    the repair after rows written outside the posting functions (a restore, a benchmark's raw
    inserts). One UPDATE with a correlated count; returns the accounts updated."""
    from django.db.models import Count, OuterRef, Subquery
    from django.db.models.functions import Coalesce

    counts = (
        LedgerEntry.objects.filter(account_id=OuterRef("pk"))
        .order_by()
        .values("account_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    accounts = Account.objects.all() if account_ids is None else Account.objects.filter(pk__in=account_ids)
    return accounts.update(ledger_entry_count=Coalesce(Subquery(counts), 0))
