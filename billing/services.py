"""Every change of a balance goes through ``_post`` (docs/billing.md): lock the account row, check
funds, write the ledger entry and the new balance in one transaction. A repeated idempotency key
returns the first entry and moves no money.

Lock order, everywhere in Tally: account rows first (by primary key), then order rows.

``account_charge_locked`` is the same posting for a caller that already holds the account row
locked in its own transaction (the deduct-quota hot path): no second lock, no key lookup; a
repeated key raises ``IntegrityError`` from the unique constraint and the caller rolls back.
``accounts_charge_locked`` is its set-based form for batch jobs (many charges, one INSERT).

Every credit (a recharge or a positive adjustment, whatever path it came by: callback, review,
batch file, admin form) enqueues ``usage.settle_arrears`` by name on commit (after a credit, arrears
are settled oldest first); the usage app's sweep repairs a lost message.

The write itself (funds check, UPDATE the balance, INSERT the entry) is
``billing.ledger_write.write_posting``; ``accounts_charge_locked`` lives in
``billing.batch_postings`` (both re-exported here, the app's one entry point for money moves).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from billing.batch_postings import BatchCharge, accounts_charge_locked
from billing.ledger_write import check_idempotency_key, positive_amount, write_posting
from billing.locks import account_lock_row
from billing.models import NAMESPACE_VALIDATOR, Account, LedgerEntry, LedgerKind
from billing.statements.after_issue import entry_posted
from config.db import retry_on_conflict
from config.enqueue import enqueue_on_commit
from config.exceptions import InvalidInput
from config.money import to_money

__all__ = [
    "SETTLE_ARREARS_TASK",
    "BatchCharge",
    "Posting",
    "account_adjust",
    "account_charge",
    "account_charge_locked",
    "accounts_charge_locked",
    "account_credit",
    "account_get_or_create",
    "account_refund",
]


SETTLE_ARREARS_TASK = "usage.settle_arrears"
_CREDITS = (LedgerKind.RECHARGE, LedgerKind.ADJUSTMENT)


@dataclass(frozen=True)
class Posting:
    entry: LedgerEntry
    replayed: bool

    @property
    def balance(self) -> Decimal:
        return self.entry.balance_after


def account_get_or_create(*, namespace: str, member: Any = None) -> Account:
    """The account of ``namespace``, created (in the deployment currency) on first use."""
    NAMESPACE_VALIDATOR(namespace)
    try:
        account, _ = Account.objects.get_or_create(
            namespace=namespace, defaults={"currency": settings.TALLY_CURRENCY}
        )
    except IntegrityError:  # created concurrently
        account = Account.objects.get(namespace=namespace)
    if member is not None:
        account.members.add(member)  # type: ignore[arg-type]
    return account


def account_personal_get_or_create(*, user: Any) -> Account:
    """The account named like ``user``, created with ``user`` as its only member if there is none.

    An existing account of that name is returned unchanged: membership is never added here (a
    personal namespace is never an existing shared one, issue 13; the caller checks membership)."""
    namespace = user.get_username()
    NAMESPACE_VALIDATOR(namespace)
    account = Account.objects.filter(namespace=namespace).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            account = Account.objects.create(namespace=namespace, currency=settings.TALLY_CURRENCY)
            account.members.add(user)
    except IntegrityError:  # created concurrently (by this user's other request, or as a shared one)
        account = Account.objects.get(namespace=namespace)
    return account


@retry_on_conflict
def _post(
    *,
    account_id: int,
    amount: Decimal,
    kind: str,
    idempotency_key: str,
    subject: tuple[str, Any] | None = None,
    actor: Any = None,
    memo: str = "",
) -> Posting:
    check_idempotency_key(idempotency_key)
    amount = to_money(amount)
    with transaction.atomic():
        account = account_lock_row(account_id)
        # Looked up under the account lock: a concurrent first request has either committed (and
        # READ COMMITTED / SQLite's single writer lets us see it) or has not started posting.
        existing = LedgerEntry.objects.filter(account_id=account_id, idempotency_key=idempotency_key).first()
        if existing is not None:
            return Posting(existing, replayed=True)
        entry = write_posting(
            account=account,
            amount=amount,
            kind=kind,
            idempotency_key=idempotency_key,
            subject=subject,
            actor=actor,
            memo=memo,
        )
        if amount > 0 and kind in _CREDITS:
            enqueue_on_commit(SETTLE_ARREARS_TASK, account_id=account_id)
    entry_posted(entry)  # money given back may need a credit note (billing/statements/credit_notes.py)
    return Posting(entry, replayed=False)


def account_charge(
    *,
    account_id: int,
    amount: Decimal,
    idempotency_key: str,
    subject: tuple[str, Any] | None = None,
    actor: Any = None,
    memo: str = "",
) -> Posting:
    """Debit ``amount`` (>= 0). Raises ``InsufficientFunds`` and changes nothing if short."""
    return _post(
        account_id=account_id,
        amount=-positive_amount(amount),
        kind=LedgerKind.CHARGE,
        idempotency_key=idempotency_key,
        subject=subject,
        actor=actor,
        memo=memo,
    )


def account_charge_locked(
    *,
    account: Account,
    amount: Decimal,
    idempotency_key: str,
    subject: tuple[str, Any] | None = None,
    actor: Any = None,
    memo: str = "",
    pays_quota_usage: bool = False,
) -> Posting:
    """Debit ``amount`` (>= 0) from ``account``, a row the caller locked (``select_for_update``,
    with ``balance`` loaded) in the transaction it is in. Two statements: UPDATE the balance,
    INSERT the entry; ``account.balance`` is updated in place. ``pays_quota_usage``: the entry pays
    a deduct-quota call (counted for the records list, ``billing.ledger_write.write_posting``).

    No replay lookup: a key posted before raises ``IntegrityError`` (unique per account), which
    must roll the caller's transaction back (let it leave the ``atomic`` block); the caller knows
    how to answer a replay. Raises ``InsufficientFunds`` (nothing written) if short.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("account_charge_locked needs the caller's transaction and account lock")
    check_idempotency_key(idempotency_key)
    entry = write_posting(
        account=account,
        amount=-positive_amount(amount),
        kind=LedgerKind.CHARGE,
        idempotency_key=idempotency_key,
        subject=subject,
        actor=actor,
        memo=memo,
        pays_quota_usage=pays_quota_usage,
    )
    return Posting(entry, replayed=False)


def account_refund(
    *,
    account_id: int,
    amount: Decimal,
    idempotency_key: str,
    subject: tuple[str, Any] | None = None,
    actor: Any = None,
    memo: str = "",
) -> Posting:
    """Give money back for something charged before (>= 0)."""
    return _post(
        account_id=account_id,
        amount=positive_amount(amount),
        kind=LedgerKind.REFUND,
        idempotency_key=idempotency_key,
        subject=subject,
        actor=actor,
        memo=memo,
    )


def account_credit(
    *,
    account_id: int,
    amount: Decimal,
    idempotency_key: str,
    subject: tuple[str, Any] | None = None,
    actor: Any = None,
    memo: str = "",
) -> Posting:
    """Add paid-in money (a recharge) to the balance (> 0)."""
    amount = positive_amount(amount)
    if amount == 0:
        raise InvalidInput("amount must be > 0", errors={"amount": ["must be > 0"]})
    return _post(
        account_id=account_id,
        amount=amount,
        kind=LedgerKind.RECHARGE,
        idempotency_key=idempotency_key,
        subject=subject,
        actor=actor,
        memo=memo,
    )


def account_adjust(
    *,
    account_id: int,
    amount: Decimal,
    reason: str,
    actor: Any,
    idempotency_key: str,
    subject: tuple[str, Any] | None = None,
) -> Posting:
    """A staff correction with a mandatory reason; signed; still never below zero. Its subject is
    ``("adjustment", <idempotency key>)`` (the key is unique per account, so the entry is traceable
    to the form or file that made it), unless ``subject`` names what it corrects: ("statement",
    number) marks money given back for an issued statement (a credit note follows)."""
    if not reason or not reason.strip():
        raise InvalidInput("a reason is required", errors={"reason": ["required"]})
    amount = to_money(amount)
    if amount == 0:
        raise InvalidInput("amount must not be zero", errors={"amount": ["must not be zero"]})
    return _post(
        account_id=account_id,
        amount=amount,
        kind=LedgerKind.ADJUSTMENT,
        idempotency_key=idempotency_key,
        subject=subject or ("adjustment", idempotency_key[:64]),
        actor=actor,
        memo=reason.strip(),
    )
