"""Set-based charging for batch jobs (the renewal engine, B1 in docs/benchmarks.md): many charges
on rows the caller locked, one multi-row INSERT of entries and one UPDATE of the balances (and of
the accounts' entry counts)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connections, router, transaction
from django.utils import timezone

from billing.acting import check_caller_may_move
from billing.ledger_write import check_idempotency_key, positive_amount
from billing.models import Account, LedgerEntry, LedgerKind
from billing.quota_cache import forget_on_commit
from config.bulk import rows_update
from config.bulk_insert import instance_maker, rows_insert
from config.exceptions import InsufficientFunds

_new_entry = instance_maker(LedgerEntry)  # a batch builds thousands (config.bulk_insert)


@dataclass(frozen=True)
class BatchCharge:
    account_id: int
    amount: Decimal  # >= 0, debited
    idempotency_key: str
    subject: tuple[str, Any]
    memo: str = ""


def accounts_charge_locked(
    *, accounts: Mapping[int, Account], charges: Sequence[BatchCharge]
) -> list[LedgerEntry]:
    """Set-based ``account_charge_locked`` for batch jobs (the renewal engine, B1): debit every
    charge, in order, from ``accounts`` (rows locked FOR UPDATE in the current transaction, their
    ``balance`` updated in place), with one multi-row INSERT of entries and one UPDATE of the
    balances. Returns the entries in the order of ``charges``. Funds are checked charge by charge
    before anything is written: one short account raises ``InsufficientFunds`` and nothing is
    written. A key posted before raises ``IntegrityError`` (the caller rolls back and redoes its
    work one posting at a time)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("accounts_charge_locked needs the caller's transaction and account locks")
    for account_id in accounts:
        check_caller_may_move(account_id)  # a tenant API call's caller is a member now (billing.acting)
    balances = {account_id: account.balance for account_id, account in accounts.items()}
    entries: list[LedgerEntry] = []
    for charge in charges:
        check_idempotency_key(charge.idempotency_key)
        amount = positive_amount(charge.amount)
        before = balances[charge.account_id]
        after = before - amount
        if after < 0:
            raise InsufficientFunds(
                f"insufficient balance: {before} available, {amount} needed",
                balance=str(before),
                required=str(amount),
            )
        balances[charge.account_id] = after
        entries.append(
            _new_entry(
                account_id=charge.account_id,
                amount=-amount,
                balance_after=after,
                kind=LedgerKind.CHARGE,
                subject_type=charge.subject[0],
                subject_id=str(charge.subject[1]),
                memo=charge.memo[:500],
                idempotency_key=charge.idempotency_key,
            )
        )
    if not entries:
        return []
    if not rows_insert(entries, returning=True):  # keys from the INSERT itself where it can
        _load_entry_pks(entries)
    now = timezone.now()
    changed = []
    for account_id in sorted({charge.account_id for charge in charges}):
        account = accounts[account_id]
        account.balance = balances[account_id]
        account.updated_at = now
        changed.append(account)
    rows_update(changed, ["balance", "updated_at"])
    _count_entries(entries)
    forget_on_commit(account.pk for account in changed)
    return entries


def _count_entries(entries: list[LedgerEntry]) -> None:
    """``Account.ledger_entry_count`` += each account's new entries: ONE UPDATE of SQL increments
    (``CASE id WHEN ... THEN n``) on the rows the caller locked, so a chunk costs the same
    statements whatever its size."""
    per_account = sorted(Counter(e.account_id for e in entries).items())
    connection = connections[router.db_for_write(Account)]
    quote = connection.ops.quote_name
    table, count, pk = quote(Account._meta.db_table), quote("ledger_entry_count"), quote("id")
    whens = " ".join(["WHEN %s THEN %s"] * len(per_account))
    marks = ", ".join(["%s"] * len(per_account))
    params = [value for pair in per_account for value in pair] + [account_id for account_id, _ in per_account]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {count} = {count} + CASE {pk} {whens} END WHERE {pk} IN ({marks})",  # noqa: S608
            params,
        )


def _load_entry_pks(entries: list[LedgerEntry]) -> None:
    by_key = {(e.account_id, e.idempotency_key): e for e in entries}
    rows = LedgerEntry.objects.filter(
        account_id__in={e.account_id for e in entries},
        idempotency_key__in={e.idempotency_key for e in entries},
    ).values_list("pk", "account_id", "idempotency_key", "created_at")
    for pk, account_id, key, created_at in rows:
        entry = by_key.get((account_id, key))
        if entry is not None:
            entry.pk = pk
            entry.created_at = created_at
            entry._state.adding = False
            entry._state.db = LedgerEntry.objects.db
