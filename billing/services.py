"""Every change of a balance goes through ``_post`` (DOMAIN.md 2): lock the account row, check
funds, write the ledger entry and the new balance in one transaction. A repeated idempotency key
returns the first entry and moves no money.

Lock order, everywhere in Tally: account rows first (by primary key), then order rows.

``account_charge_locked`` is the same posting for a caller that already holds the account row
locked in its own transaction (the deduct-quota hot path): no second lock, no key lookup; a
repeated key raises ``IntegrityError`` from the unique constraint and the caller rolls back.
``accounts_charge_locked`` is its set-based form for batch jobs (many charges, one INSERT).

Every credit (a recharge or a positive adjustment, whatever path it came by: callback, review,
batch file, admin form) enqueues ``usage.settle_arrears`` by name on commit (DOMAIN.md 2: after a
credit, arrears are settled oldest first); the usage app's sweep repairs a lost message.

The write itself (``_write``: UPDATE the balance, INSERT the entry) is two plain parameterised
statements rather than ``save()``/``create()``: it runs on every paid API call while the account row
is locked, and the ORM's statement building cost several times the database work there (B2 in
docs/benchmarks.md). The rows and the returned ``LedgerEntry`` are the same as the ORM's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.acting import check_caller_may_move
from billing.locks import account_lock_row
from billing.models import NAMESPACE_VALIDATOR, Account, LedgerEntry, LedgerKind
from billing.statements.after_issue import entry_posted
from config.bulk import rows_update
from config.db import retry_on_deadlock
from config.enqueue import enqueue_on_commit
from config.exceptions import InsufficientFunds, InvalidInput
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


def _check_key(idempotency_key: str) -> None:
    if not idempotency_key or len(idempotency_key) > 255:
        raise InvalidInput(
            "idempotency key must be 1-255 characters", errors={"idempotency_key": ["required"]}
        )


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _write_sql() -> tuple[str, str]:
    """The UPDATE and INSERT of a posting, quoted for the current database. Identifiers come from
    the models' ``_meta``; every value is a placeholder."""
    a, e = Account._meta, LedgerEntry._meta
    col = {f.name: _q(f.column) for f in e.concrete_fields}
    update = (
        f"UPDATE {_q(a.db_table)} SET {_q('balance')} = %s, {_q('updated_at')} = %s "  # noqa: S608
        f"WHERE {_q('id')} = %s"
    )
    insert = (
        f"INSERT INTO {_q(e.db_table)} ({', '.join(col[f] for f in _ENTRY_FIELDS)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(_ENTRY_FIELDS))})"
    )
    return update, insert


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


def _write(
    *,
    account: Account,
    amount: Decimal,
    kind: str,
    idempotency_key: str,
    subject: tuple[str, Any] | None,
    actor: Any,
    memo: str,
) -> LedgerEntry:
    """Check funds, save the new balance and insert the entry, on a row locked by the caller
    (``account.balance`` must be the locked row's balance; it is updated in place). A tenant API
    call's caller must be a member of the account now (``billing.acting``)."""
    check_caller_may_move(account.pk)
    subject_type, subject_id = (subject[0], str(subject[1])) if subject else ("", "")
    new_balance = account.balance + amount
    if new_balance < 0:
        raise InsufficientFunds(
            f"insufficient balance: {account.balance} available, {-amount} needed",
            balance=str(account.balance),
            required=str(-amount),
        )
    sql = _SQL.get(connection.vendor) or _SQL.setdefault(connection.vendor, _write_sql())
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    memo = memo[:500]
    actor_id = actor.pk if actor is not None else None
    with connection.cursor() as cursor:
        cursor.execute(sql[0], [new_balance, at, account.pk])
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
    entry = LedgerEntry(
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
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


@retry_on_deadlock
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
    _check_key(idempotency_key)
    amount = to_money(amount)
    with transaction.atomic():
        account = account_lock_row(account_id)
        # Looked up under the account lock: a concurrent first request has either committed (and
        # READ COMMITTED / SQLite's single writer lets us see it) or has not started posting.
        existing = LedgerEntry.objects.filter(account_id=account_id, idempotency_key=idempotency_key).first()
        if existing is not None:
            return Posting(existing, replayed=True)
        entry = _write(
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


def _positive(amount: Decimal, field: str = "amount") -> Decimal:
    amount = to_money(amount)
    if amount < 0:
        raise InvalidInput(f"{field} must be >= 0", errors={field: ["must be >= 0"]})
    return amount


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
        amount=-_positive(amount),
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
) -> Posting:
    """Debit ``amount`` (>= 0) from ``account``, a row the caller locked (``select_for_update``,
    with ``balance`` loaded) in the transaction it is in. Two statements: UPDATE the balance,
    INSERT the entry; ``account.balance`` is updated in place.

    No replay lookup: a key posted before raises ``IntegrityError`` (unique per account), which
    must roll the caller's transaction back (let it leave the ``atomic`` block); the caller knows
    how to answer a replay. Raises ``InsufficientFunds`` (nothing written) if short.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("account_charge_locked needs the caller's transaction and account lock")
    _check_key(idempotency_key)
    entry = _write(
        account=account,
        amount=-_positive(amount),
        kind=LedgerKind.CHARGE,
        idempotency_key=idempotency_key,
        subject=subject,
        actor=actor,
        memo=memo,
    )
    return Posting(entry, replayed=False)


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
        _check_key(charge.idempotency_key)
        amount = _positive(charge.amount)
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
        _load_entry_pks(entries)
    now = timezone.now()
    changed = []
    for account_id in sorted({charge.account_id for charge in charges}):
        account = accounts[account_id]
        account.balance = balances[account_id]
        account.updated_at = now
        changed.append(account)
    rows_update(changed, ["balance", "updated_at"])
    return entries


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
        amount=_positive(amount),
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
    amount = _positive(amount)
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
