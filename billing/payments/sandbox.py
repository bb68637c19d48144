from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from billing.payments.base import PaymentInit

if TYPE_CHECKING:
    from billing.models import RechargeOrder


class SandboxProvider:
    """Development/demo provider: the pay URL is a local page whose buttons send the real signed
    callback, so the whole recharge path (signature, locking, credit) is exercised end to end."""

    name = "sandbox"

    def create_payment(self, order: RechargeOrder) -> PaymentInit:
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        return PaymentInit(
            pay_url=f"{base}/sandbox/pay/{order.public_id}", payment_id=f"SBX-{order.public_id}"
        )
