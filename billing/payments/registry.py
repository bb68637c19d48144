from __future__ import annotations

from django.conf import settings

from billing.errors import UnknownPaymentMethod
from billing.payments.base import PaymentProvider
from billing.payments.http import HttpProvider
from billing.payments.sandbox import SandboxProvider


def sandbox_enabled() -> bool:
    """``PAYMENT_SANDBOX_ENABLED`` (default: DEBUG): the sandbox credits money nobody paid."""
    return bool(getattr(settings, "PAYMENT_SANDBOX_ENABLED", False))


def payment_methods() -> list[str]:
    """The methods a client may ask for: ``sandbox`` only when enabled, ``http`` when a payment
    service is set."""
    methods = ["sandbox"] if sandbox_enabled() else []
    if settings.PAYMENT_SERVICE_URL:
        methods.append("http")
    return methods


def get_provider(payment_method: str) -> PaymentProvider:
    allowed = payment_methods()
    if payment_method not in allowed:
        reason = f"must be one of: {', '.join(allowed)}" if allowed else "no payment method is enabled"
        raise UnknownPaymentMethod(
            f"unknown payment method: {payment_method}", errors={"payment_method": [reason]}
        )
    if payment_method == "http":
        return HttpProvider()
    return SandboxProvider()
