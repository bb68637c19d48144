"""Every change of a balance goes through ``_post`` (DOMAIN.md 2): lock the account row, check
funds, write the ledger entry and the new balance in one transaction. A repeated idempotency key
returns the first entry and moves no money.

Lock order, everywhere in Tally: account rows first (by primary key), then order rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from billing.models import NAMESPACE_VALIDATOR, Account, LedgerEntry, LedgerKind
from config.db import retry_on_deadlock
from config.exceptions import InsufficientFunds, InvalidInput
from config.money import to_money

__all__ = [
    "Posting",
    "account_adjust",
    "account_charge",
    "account_credit",
    "account_get_or_create",
    "account_refund",
]


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
    if not idempotency_key or len(idempotency_key) > 255:
        raise InvalidInput(
            "idempotency key must be 1-255 characters", errors={"idempotency_key": ["required"]}
        )
    amount = to_money(amount)
    subject_type, subject_id = (subject[0], str(subject[1])) if subject else ("", "")
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        # Looked up under the account lock: a concurrent first request has either committed (and
        # READ COMMITTED / SQLite's single writer lets us see it) or has not started posting.
        existing = LedgerEntry.objects.filter(account_id=account_id, idempotency_key=idempotency_key).first()
        if existing is not None:
            return Posting(existing, replayed=True)
        new_balance = account.balance + amount
        if new_balance < 0:
            raise InsufficientFunds(
                f"insufficient balance: {account.balance} available, {-amount} needed",
                balance=str(account.balance),
                required=str(-amount),
            )
        account.balance = new_balance
        account.save(update_fields=["balance", "updated_at"])
        entry = LedgerEntry.objects.create(
            account=account,
            amount=amount,
            balance_after=new_balance,
            kind=kind,
            subject_type=subject_type,
            subject_id=subject_id,
            actor=actor,
            memo=memo[:500],
            idempotency_key=idempotency_key,
        )
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
) -> Posting:
    """A staff correction with a mandatory reason; signed; still never below zero."""
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
        actor=actor,
        memo=reason.strip(),
    )
