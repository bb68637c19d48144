"""The sandbox provider's pay page (development, demos, browser tests).

The page carries two callbacks signed by the server at render time (valid for the 300 s
tolerance); its "Pay" and "Fail" buttons POST them from the browser to the real callback endpoint,
so the sandbox exercises exactly the path a real provider uses. The secret never reaches the page.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.models import RechargeOrder
from billing.signature import HEADER, sign


def callback_body(order: RechargeOrder, status: str) -> bytes:
    payload = {
        "recharge_order_id": order.public_id,
        "payment_id": order.payment_id or f"SBX-{order.public_id}",
        "amount": str(order.amount),
        "status": status,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


@require_GET
def sandbox_pay_page(request: HttpRequest, public_id: str) -> HttpResponse:
    if not getattr(settings, "PAYMENT_SANDBOX_ENABLED", True):
        raise Http404("sandbox payments are disabled")
    order = RechargeOrder.objects.select_related("account").filter(public_id=public_id).first()
    if order is None or order.payment_method != "sandbox":
        raise Http404("no such sandbox payment")
    pay = callback_body(order, "SUCCESS")
    fail = callback_body(order, "FAILED")
    context = {
        "order": order,
        "header_name": HEADER,
        "callback_url": "/internal/v1/billing/callback",
        "pay_body": pay.decode(),
        "pay_signature": sign(pay),
        "fail_body": fail.decode(),
        "fail_signature": sign(fail),
    }
    return render(request, "billing/sandbox_pay.html", context)
