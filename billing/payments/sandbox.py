from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

from django.conf import settings

from billing.payments.base import PaymentInit

if TYPE_CHECKING:
    from billing.models import RechargeOrder

TOKEN_PARAM = "token"  # noqa: S105 - the query parameter's name


def hash_pay_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SandboxProvider:
    """Development/demo provider: the pay URL is a local page whose buttons send the real signed
    callback, so the whole recharge path (signature, locking, credit) is exercised end to end.

    The URL handed to the creator carries a one-time token (only its hash is stored): the page is
    shown to the recharge's owner, never to someone who guesses an id (``billing.sandbox``)."""

    name = "sandbox"

    def create_payment(self, order: RechargeOrder) -> PaymentInit:
        base = settings.PUBLIC_BASE_URL.rstrip("/")
        url = f"{base}/sandbox/pay/{order.public_id}"
        token = secrets.token_urlsafe(24)
        return PaymentInit(
            pay_url=f"{url}?{TOKEN_PARAM}={token}",
            payment_id=f"SBX-{order.public_id}",
            stored_pay_url=url,
            pay_token_hash=hash_pay_token(token),
        )
