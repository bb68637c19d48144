"""Recharge orders: create, then settle through the provider's signed callback (docs/billing.md
"Recharge states and the review state").

State changes go through ``_transition`` only: it checks ``TRANSITIONS``, writes and appends a
``RechargeEvent``, on a row the caller has locked (account row first, then the order row).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.errors import (
    BillingInvalidInput,
    CurrencyRequired,
    CurrencyUnsupported,
    PaymentServiceError,
    RechargeNotFound,
)
from billing.locks import account_lock
from billing.models import Account, RechargeEvent, RechargeOrder, RechargeStatus
from billing.payments import get_provider
from billing.services import SETTLE_ARREARS_TASK, account_credit
from config.api.fields import parse_money
from config.db import retry_on_conflict
from config.exceptions import DomainError
from config.money import to_money

MAX_RECHARGE = Decimal("100000000")

# A late SUCCESS after FAILED is honoured: the provider says the money arrived. ``review`` and
# ``success`` are final for callbacks; only staff resolve a review (``recharge_review_resolve``):
# approved -> ``success`` with a credit, rejected -> ``failed``. An order that has been in review
# is never settled by a callback again, whatever its state.
TRANSITIONS: dict[str, set[str]] = {
    RechargeStatus.PENDING: {RechargeStatus.SUCCESS, RechargeStatus.FAILED, RechargeStatus.REVIEW},
    RechargeStatus.FAILED: {RechargeStatus.SUCCESS, RechargeStatus.REVIEW},
    RechargeStatus.SUCCESS: set(),
    RechargeStatus.REVIEW: {RechargeStatus.SUCCESS, RechargeStatus.FAILED},
}


def new_public_id() -> str:
    """``R`` + UTC time to the microsecond + random: unique and sortable by creation time."""
    return "R" + timezone.now().strftime("%Y%m%d%H%M%S%f") + secrets.token_hex(3).upper()


def validate_recharge_amount(amount: Any) -> Decimal:
    try:
        value = parse_money(amount)
    except ValueError as exc:
        raise BillingInvalidInput(f"amount {exc}", errors={"amount": [str(exc)]}) from exc
    if value <= 0:
        raise BillingInvalidInput("amount must be > 0", errors={"amount": ["must be > 0"]})
    if value > MAX_RECHARGE:
        raise BillingInvalidInput("amount too large", errors={"amount": [f"must be <= {MAX_RECHARGE}"]})
    return to_money(value)


def validate_currency(currency: Any) -> str:
    if currency in (None, ""):
        raise CurrencyRequired("currency required", errors={"currency": ["required"]})
    if not isinstance(currency, str) or currency.upper() != settings.TALLY_CURRENCY:
        raise CurrencyUnsupported(
            f"currency {currency} is not supported; this deployment uses {settings.TALLY_CURRENCY}",
            errors={"currency": [f"must be {settings.TALLY_CURRENCY}"]},
        )
    return settings.TALLY_CURRENCY


def recharge_create(
    *, account: Account, amount: Any, currency: Any, payment_method: str, actor: Any = None
) -> RechargeOrder:
    """A ``pending`` order with the provider's pay URL. The provider call happens outside any
    transaction; if it fails the order is kept as ``failed`` (with the reason) and the error raised.

    The returned instance's ``pay_url`` is the one for the creator (with the sandbox's one-time
    token); the stored row has it without the token."""
    value = validate_recharge_amount(amount)
    cur = validate_currency(currency)
    provider = get_provider(payment_method)
    order = RechargeOrder.objects.create(
        public_id=new_public_id(),
        account=account,
        amount=value,
        currency=cur,
        payment_method=payment_method,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    RechargeEvent.objects.create(
        recharge=order, to_status=RechargeStatus.PENDING, note=f"created via {payment_method}"
    )
    try:
        init = provider.create_payment(order)
    except DomainError as exc:
        with transaction.atomic():
            locked = RechargeOrder.objects.select_for_update().get(pk=order.pk)
            _transition(locked, RechargeStatus.FAILED, note=f"provider error: {exc.message}"[:500])
        raise
    order.pay_url = (init.stored_pay_url or init.pay_url)[:1000]
    order.payment_id = init.payment_id[:128]
    order.pay_token_hash = init.pay_token_hash
    order.save(update_fields=["pay_url", "payment_id", "pay_token_hash", "updated_at"])
    # The creator's answer carries the provider's full URL (the sandbox's one-time token); the row
    # keeps only the token's hash. Not saved again from here.
    order.pay_url = init.pay_url[:1000]
    return order


def _transition(order: RechargeOrder, to: str, *, note: str = "", review_reason: str = "") -> None:
    if to not in TRANSITIONS[order.status]:
        raise DomainError(f"recharge {order.public_id}: {order.status} -> {to} not allowed")
    previous = order.status
    order.status = to
    fields = ["status", "updated_at"]
    if to in (RechargeStatus.SUCCESS, RechargeStatus.FAILED, RechargeStatus.REVIEW):
        order.finished_at = timezone.now()
        fields.append("finished_at")
    if review_reason:
        order.review_reason = review_reason[:500]
        fields.append("review_reason")
    order.save(update_fields=fields)
    RechargeEvent.objects.create(recharge=order, from_status=previous, to_status=to, note=note[:500])


@dataclass(frozen=True)
class CallbackResult:
    order: RechargeOrder
    outcome: str  # credited | failed | noop | review
    message: str = ""


@retry_on_conflict
def recharge_handle_callback(
    *, recharge_order_id: str, payment_id: str, amount: Decimal, status: str
) -> CallbackResult:
    """Apply a verified provider callback. Idempotent: a repeat finds the order final and does nothing.

    Amount mismatch: the order goes to ``review``, nothing is credited, and the result says so (the
    view answers 190302) — the review state is committed, the error is only in the answer.
    """
    ref = RechargeOrder.objects.filter(public_id=recharge_order_id).values_list("pk", "account_id").first()
    if ref is None:
        raise RechargeNotFound(f"recharge order {recharge_order_id} not found")
    order_pk, account_id = ref
    with transaction.atomic():
        account_lock(account_id)
        order = RechargeOrder.objects.select_for_update().get(pk=order_pk)
        if order.status == RechargeStatus.SUCCESS:
            return CallbackResult(order, "noop", "already credited")
        if order.status == RechargeStatus.REVIEW or order.review_reason:
            return CallbackResult(order, "review", order.review_reason or "under review")
        if status == "FAILED":
            if order.status == RechargeStatus.FAILED:
                return CallbackResult(order, "noop", "already failed")
            _transition(order, RechargeStatus.FAILED, note=f"provider FAILED {payment_id}")
            return CallbackResult(order, "failed")
        if to_money(amount) != order.amount:
            reason = f"callback amount {amount} differs from order amount {order.amount}"
            _transition(order, RechargeStatus.REVIEW, note=f"SUCCESS {payment_id}", review_reason=reason)
            return CallbackResult(order, "review", reason)
        posting = account_credit(
            account_id=account_id,
            amount=order.amount,
            idempotency_key=f"recharge:{order.public_id}",
            subject=("recharge", order.public_id),
            memo=f"recharge {order.public_id} via {order.payment_method}",
        )
        if payment_id:
            order.payment_id = payment_id[:128]
        order.ledger_entry = posting.entry
        order.save(update_fields=["payment_id", "ledger_entry", "updated_at"])
        _transition(order, RechargeStatus.SUCCESS, note=f"SUCCESS {payment_id}")
        # account_credit enqueued usage.settle_arrears for the commit (billing/services.py)
    return CallbackResult(order, "credited")


@retry_on_conflict
def recharge_review_resolve(
    *, recharge_pk: int, approve: bool, reason: str, actor: Any, amount: Decimal | None = None
) -> RechargeOrder:
    """Staff settle a recharge in ``review`` (an amount mismatch): ``approve`` credits ``amount``
    (default: the order's amount; staff enter what actually arrived) and makes it ``success``;
    otherwise it becomes ``failed`` with nothing credited. The reason is mandatory and kept in the
    event and the ledger memo. Idempotent through the ledger key ``recharge:<public id>``."""
    if not reason or not reason.strip():
        raise BillingInvalidInput("a reason is required", errors={"reason": ["required"]})
    reason = reason.strip()
    ref = RechargeOrder.objects.filter(pk=recharge_pk).values_list("account_id", flat=True).first()
    if ref is None:
        raise RechargeNotFound(f"recharge order {recharge_pk} not found")
    with transaction.atomic():
        account_lock(ref)
        order = RechargeOrder.objects.select_for_update().get(pk=recharge_pk)
        if order.status != RechargeStatus.REVIEW:
            raise DomainError(f"recharge {order.public_id} is {order.status}, not in review")
        who = getattr(actor, "get_username", lambda: "staff")()
        if not approve:
            _transition(order, RechargeStatus.FAILED, note=f"review rejected by {who}: {reason}")
            return order
        credit = order.amount if amount is None else validate_recharge_amount(amount)
        posting = account_credit(
            account_id=order.account_id,
            amount=credit,
            idempotency_key=f"recharge:{order.public_id}",
            subject=("recharge", order.public_id),
            actor=actor if getattr(actor, "pk", None) else None,
            memo=f"recharge {order.public_id} approved after review: {reason}",
        )
        order.ledger_entry = posting.entry
        order.save(update_fields=["ledger_entry", "updated_at"])
        _transition(
            order, RechargeStatus.SUCCESS, note=f"review approved by {who}, credited {credit}: {reason}"
        )
    return order


__all__ = [
    "SETTLE_ARREARS_TASK",
    "CallbackResult",
    "PaymentServiceError",
    "TRANSITIONS",
    "new_public_id",
    "recharge_create",
    "recharge_handle_callback",
    "recharge_review_resolve",
    "validate_currency",
    "validate_recharge_amount",
]
