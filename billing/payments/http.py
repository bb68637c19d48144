from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings

from billing.errors import PaymentServiceError, PaymentServiceTimeout
from billing.payments.base import PaymentInit

if TYPE_CHECKING:
    from billing.models import RechargeOrder

logger = logging.getLogger("tally.billing")

ATTEMPTS = 3
BACKOFF_SECONDS = 0.2


class HttpProvider:
    """JSON to ``PAYMENT_SERVICE_URL``: ``POST {url}/payments`` -> ``{payment_id, pay_url}``.

    The recharge id is sent as ``Idempotency-Key`` so the retries (connection errors, timeouts and
    5xx only; a 4xx is final) cannot open two payments. Timeouts map to 190502, anything else to
    190501.
    """

    name = "http"

    def __init__(self, base_url: str | None = None, session: requests.Session | None = None):
        self.base_url = (base_url if base_url is not None else settings.PAYMENT_SERVICE_URL).rstrip("/")
        self.session = session or requests.Session()

    def create_payment(self, order: RechargeOrder) -> PaymentInit:
        body = {
            "recharge_order_id": order.public_id,
            "amount": str(order.amount),
            "currency": order.currency,
            "notify_url": settings.PUBLIC_BASE_URL.rstrip("/") + "/internal/v1/billing/callback",
        }
        data = self._post("/payments", body, idempotency_key=order.public_id)
        pay_url = data.get("pay_url")
        if not isinstance(pay_url, str) or not pay_url:
            raise PaymentServiceError("payment service answered without a pay_url")
        return PaymentInit(pay_url=pay_url, payment_id=str(data.get("payment_id") or ""))

    def _post(self, path: str, body: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        if not self.base_url:
            raise PaymentServiceError("PAYMENT_SERVICE_URL is not configured")
        timeout = settings.HTTP_TIMEOUT_SECONDS
        last: Exception | None = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                resp = self.session.post(
                    self.base_url + path,
                    json=body,
                    timeout=(min(timeout, 3.0), timeout),
                    headers={"Idempotency-Key": idempotency_key},
                )
            except requests.Timeout as exc:
                last = PaymentServiceTimeout(f"payment service timed out: {exc.__class__.__name__}")
            except requests.RequestException as exc:
                last = PaymentServiceError(f"payment service unreachable: {exc.__class__.__name__}")
            else:
                if resp.status_code >= 500:
                    last = PaymentServiceError(f"payment service answered HTTP {resp.status_code}")
                elif resp.status_code >= 400:
                    raise PaymentServiceError(f"payment service refused the payment: HTTP {resp.status_code}")
                else:
                    try:
                        data = resp.json()
                    except ValueError as exc:
                        raise PaymentServiceError("payment service answered invalid JSON") from exc
                    if isinstance(data, dict) and isinstance(data.get("data"), dict):
                        data = data["data"]  # tolerate an enveloped answer
                    if not isinstance(data, dict):
                        raise PaymentServiceError("payment service answered an unexpected document")
                    return data
            logger.warning("payment service attempt %d failed: %s", attempt, last)
            if attempt < ATTEMPTS:
                time.sleep(BACKOFF_SECONDS * attempt)
        assert last is not None
        raise last
