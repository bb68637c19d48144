"""Payment providers behind one interface: ``sandbox`` (built in) and ``http``
(docs/billing.md "Payment methods")."""

from __future__ import annotations

from billing.payments.base import PaymentInit, PaymentProvider
from billing.payments.registry import get_provider, payment_methods

__all__ = ["PaymentInit", "PaymentProvider", "get_provider", "payment_methods"]
