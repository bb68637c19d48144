from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from billing.models import RechargeOrder


@dataclass(frozen=True)
class PaymentInit:
    """What a provider answers when a payment is started.

    ``pay_url`` is what the client who created the recharge gets; ``stored_pay_url`` (default: the
    same) is what the order keeps, without the one-time token whose hash is ``pay_token_hash``.
    """

    pay_url: str
    payment_id: str = ""
    stored_pay_url: str = ""
    pay_token_hash: str = ""


class PaymentProvider(Protocol):
    """Starts a payment for a pending recharge order. The provider later reports the outcome through
    the signed callback (``billing.signature``), never through this call's return value."""

    name: str

    def create_payment(self, order: RechargeOrder) -> PaymentInit: ...
