"""Row locks on accounts, in the one order every money path takes: account rows first, then the
rows of orders, lines or records that belong to them, each set by primary key.

Every helper evaluates its query (a lazy ``select_for_update()`` locks nothing) and must run
inside the caller's ``transaction.atomic()``: the lock lasts until that transaction ends. Locking
by primary key, in ascending order, keeps two transactions that lock the same accounts from
waiting on each other in opposite orders (a deadlock), and keeps InnoDB from locking index ranges
of rows other workers hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TypeVar

from django.db import connection, models

from billing.models import Account

RowT = TypeVar("RowT", bound=models.Model)


def account_lock(account_id: int) -> None:
    """Lock one account row, reading nothing but its key. ``Account.DoesNotExist`` if absent."""
    Account.objects.select_for_update().filter(pk=account_id).values_list("pk", flat=True).get()


def account_lock_shared(account_id: int) -> None:
    """Hold one account row in share mode (MariaDB; a no-op on SQLite, whose writers are serialized):
    for a writer that must come before the account's money paths without excluding its own kind
    (meter-event ingest, which then locks lines shared). Every insert of a row referencing the
    account takes this lock anyway (the foreign-key check); taking it first keeps the fixed order."""
    if connection.vendor != "mysql":
        return
    table = connection.ops.quote_name(Account._meta.db_table)
    with connection.cursor() as cursor:
        sql = f"SELECT id FROM {table} FORCE INDEX (PRIMARY) WHERE id = %s LOCK IN SHARE MODE"  # noqa: S608
        cursor.execute(sql, [account_id])


def account_lock_row(account_id: int) -> Account:
    """Lock one account row and return it (its balance is then safe to read and write)."""
    return Account.objects.select_for_update().get(pk=account_id)


def account_lock_balance(account_id: int) -> Decimal | None:
    """Lock one account row and return its balance (``None`` when there is no such account)."""
    return Account.objects.select_for_update().filter(pk=account_id).values_list("balance", flat=True).first()


def account_try_lock(account_id: int) -> bool:
    """Lock one account row unless another transaction holds it (``SKIP LOCKED``); say which."""
    return bool(
        list(
            Account.objects.select_for_update(skip_locked=True)
            .filter(pk=account_id)
            .values_list("pk", flat=True)
        )
    )


def accounts_lock(account_ids: Iterable[int], *, skip_locked: bool = False) -> dict[int, Account]:
    """Lock several account rows in primary-key order and return them by key. With
    ``skip_locked`` the accounts another transaction holds are left out (another worker's)."""
    ids = sorted(set(account_ids))
    rows = Account.objects.select_for_update(skip_locked=skip_locked).filter(pk__in=ids).order_by("pk")
    return {account.pk: account for account in rows}


def account_then_row(model: type[RowT], pk: int, *, account_field: str = "account_id") -> RowT:
    """Lock the account a row belongs to, then the row itself (the fixed lock order), and return
    the row. The account is found by an unlocked read of the row first: a row never changes
    account, so that read cannot go stale. ``model.DoesNotExist`` if the row is absent."""
    account_id = model._default_manager.filter(pk=pk).values_list(account_field, flat=True).get()
    account_lock(account_id)
    return model._default_manager.select_for_update().get(pk=pk)
