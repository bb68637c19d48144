"""Billing's domain errors (codes 1901xx-1905xx of ``config/api/errors.py``)."""

from __future__ import annotations

from config.api.errors import ErrorCode
from config.exceptions import DomainError, InvalidInput, NotFound


class BillingInvalidInput(InvalidInput):
    """invalid billing parameters"""

    codes = {"default": ErrorCode.INVALID_PARAMETERS, "billing": ErrorCode.BILLING_INVALID_PARAMETERS}


class UnknownService(DomainError):
    """unknown metered service"""

    http_status = 400
    codes = {"default": ErrorCode.BILLING_UNKNOWN_SERVICE}


class AccountNotFound(NotFound):
    """account not found"""

    codes = {"default": ErrorCode.BILLING_ACCOUNT_NOT_FOUND}


class RechargeNotFound(NotFound):
    """recharge order not found"""

    codes = {"default": ErrorCode.RECHARGE_NOT_FOUND}


class RechargeAmountMismatch(DomainError):
    """callback amount differs from the recharge order"""

    http_status = 400
    codes = {"default": ErrorCode.RECHARGE_AMOUNT_MISMATCH}


class RechargeStateError(DomainError):
    """recharge order is not in a state that allows this"""

    http_status = 409
    codes = {"default": ErrorCode.RECHARGE_STATE}


class BadSignature(DomainError):
    """bad or stale callback signature"""

    http_status = 401
    codes = {"default": ErrorCode.RECHARGE_BAD_SIGNATURE}


class UnknownPaymentMethod(DomainError):
    """unknown payment method"""

    http_status = 400
    codes = {"default": ErrorCode.RECHARGE_UNKNOWN_PAYMENT_METHOD}


class CurrencyRequired(DomainError):
    """currency required"""

    http_status = 400
    codes = {"default": ErrorCode.CURRENCY_REQUIRED}


class CurrencyUnsupported(DomainError):
    """currency not supported by this deployment"""

    http_status = 400
    codes = {"default": ErrorCode.CURRENCY_UNSUPPORTED}


class PaymentServiceError(DomainError):
    """the payment service answered an error"""

    http_status = 502
    codes = {"default": ErrorCode.PAYMENT_SERVICE_ERROR}


class PaymentServiceTimeout(DomainError):
    """the payment service did not answer in time"""

    http_status = 504
    codes = {"default": ErrorCode.PAYMENT_SERVICE_TIMEOUT}


class StatementNotFound(NotFound):
    """statement not found"""

    codes = {"default": ErrorCode.STATEMENT_NOT_FOUND}


class CreditNoteNotFound(NotFound):
    """credit note not found"""

    codes = {"default": ErrorCode.CREDIT_NOTE_NOT_FOUND}
