"""The sandbox provider's pay page (development, demos, browser tests).

The page carries two callbacks signed by the server at render time (valid for the 300 s
tolerance); its "Pay" and "Fail" buttons POST them from the browser to the real callback endpoint,
so the sandbox exercises exactly the path a real provider uses. The secret never reaches the page.

A signed body is money, so the page exists only while ``PAYMENT_SANDBOX_ENABLED`` is on (404
otherwise), and only for the recharge's owner: a session user who is a member of the recharge's
account (or created it), or the holder of the one-time token in the pay URL (``?token=``, stored
hashed on the order). Using the token consumes it and remembers the recharge in the browser's
session, so reloading the page works there and nowhere else. Anyone else gets the same 404 as for
an id that does not exist.
"""

from __future__ import annotations

import hmac
import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from billing.models import Account, RechargeOrder
from billing.payments.registry import sandbox_enabled
from billing.payments.sandbox import TOKEN_PARAM, hash_pay_token
from billing.signature import HEADER, sign

SESSION_KEY = "sandbox_pay_orders"


def callback_body(order: RechargeOrder, status: str) -> bytes:
    payload = {
        "recharge_order_id": order.public_id,
        "payment_id": order.payment_id or f"SBX-{order.public_id}",
        "amount": str(order.amount),
        "status": status,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def _redeem_token(request: HttpRequest, order: RechargeOrder) -> bool:
    token = request.GET.get(TOKEN_PARAM, "")
    if not token or not order.pay_token_hash:
        return False
    digest = hash_pay_token(token)
    if not hmac.compare_digest(digest, order.pay_token_hash):
        return False
    # One use: only the request that clears the hash wins (two concurrent uses: one page).
    used = RechargeOrder.objects.filter(pk=order.pk, pay_token_hash=digest).update(pay_token_hash="")
    if not used:
        return False
    request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), order.public_id][-20:]
    return True


def may_see_pay_page(request: HttpRequest, order: RechargeOrder) -> bool:
    if order.public_id in request.session.get(SESSION_KEY, []):
        return True
    user = request.user
    if user.is_authenticated and (
        order.created_by_id == user.pk or Account.objects.filter(pk=order.account_id, members=user).exists()
    ):
        return True
    return _redeem_token(request, order)


@never_cache
@require_GET
def sandbox_pay_page(request: HttpRequest, public_id: str) -> HttpResponse:
    if not sandbox_enabled():
        raise Http404("sandbox payments are disabled")
    order = RechargeOrder.objects.select_related("account").filter(public_id=public_id).first()
    if order is None or order.payment_method != "sandbox" or not may_see_pay_page(request, order):
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
