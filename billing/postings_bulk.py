"""Set-based postings for batch jobs: many charges against accounts the caller already holds
locked, written with one multi-row INSERT and one UPDATE instead of a locked round trip each.

It keeps the guarantees of ``billing.services._post`` (DOMAIN.md 2) by other means:
- the caller has locked every account row (``select_for_update``) in the current transaction, so
  the balances it passes in are the committed truth and nobody else can post meanwhile;
- funds are checked in order, entry by entry, before anything is written: one short account
  raises ``InsufficientFunds`` and nothing is written (callers check affordability first and pass
  only what fits; this is the backstop), and the ``balance >= 0`` CHECK constraints stay in force;
- the idempotency key stays unique per account: a key posted before makes the INSERT fail with an
  ``IntegrityError``, which rolls the caller's transaction back (no double charge). A batch job
  that may replay must catch it and redo its work one posting at a time through ``_post``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from billing.models import Account, LedgerEntry, LedgerKind
from config.bulk import rows_update
from config.exceptions import InsufficientFunds, InvalidInput
from config.money import to_money

__all__ = ["BatchCharge", "accounts_charge_locked"]


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
    """Debit every charge, in order, from the locked ``accounts``; return their ledger entries in
    the same order. ``accounts`` must be rows locked FOR UPDATE in the current transaction; their
    ``balance`` is updated in place. Raises ``InsufficientFunds`` (nothing written) if any
    account would go below zero; ``IntegrityError`` if an idempotency key was posted before."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("accounts_charge_locked needs the caller's transaction and account locks")
    balances = {account_id: account.balance for account_id, account in accounts.items()}
    entries: list[LedgerEntry] = []
    for charge in charges:
        amount = to_money(charge.amount)
        if amount < 0:
            raise InvalidInput("amount must be >= 0", errors={"amount": ["must be >= 0"]})
        if not charge.idempotency_key or len(charge.idempotency_key) > 255:
            raise InvalidInput(
                "idempotency key must be 1-255 characters", errors={"idempotency_key": ["required"]}
            )
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
            LedgerEntry(
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
    LedgerEntry.objects.bulk_create(entries)
    if any(entry.pk is None for entry in entries):  # a backend without INSERT ... RETURNING (MySQL)
        _load_pks(entries)
    now = timezone.now()
    changed = []
    for account_id in sorted({charge.account_id for charge in charges}):
        account = accounts[account_id]
        account.balance = balances[account_id]
        account.updated_at = now
        changed.append(account)
    rows_update(changed, ["balance", "updated_at"])
    return entries


def _load_pks(entries: list[LedgerEntry]) -> None:
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
