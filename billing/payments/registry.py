from __future__ import annotations

from django.conf import settings

from billing.errors import UnknownPaymentMethod
from billing.payments.base import PaymentProvider
from billing.payments.http import HttpProvider
from billing.payments.sandbox import SandboxProvider


def payment_methods() -> list[str]:
    """The methods a client may ask for: ``sandbox`` always, ``http`` when a payment service is set."""
    methods = ["sandbox"]
    if settings.PAYMENT_SERVICE_URL:
        methods.append("http")
    return methods


def get_provider(payment_method: str) -> PaymentProvider:
    if payment_method not in payment_methods():
        raise UnknownPaymentMethod(
            f"unknown payment method: {payment_method}",
            errors={"payment_method": [f"must be one of: {', '.join(payment_methods())}"]},
        )
    if payment_method == "http":
        return HttpProvider()
    return SandboxProvider()
