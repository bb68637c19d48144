"""Demo users, tokens and wallets for ``manage.py load_demo`` (idempotent)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from billing.models import Account, RechargeOrder, RechargeStatus
from billing.quota import quota_deduct
from billing.recharges import new_public_id, recharge_handle_callback
from billing.services import account_credit, account_get_or_create
from config.admin_tools import FINANCE_GROUP, sync_finance_group
from plans.models import MeteredService

DEMO_STAFF = ("finance", "finance-demo-pass")
DEMO_ADMIN = ("admin", "admin-demo-pass")
DEMO_API_USER = "demo"
DEMO_BALANCE = Decimal("1000.0000")


def load(out: Any) -> dict[str, str]:
    User = get_user_model()
    admin, created = User.objects.get_or_create(
        username=DEMO_ADMIN[0], defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        admin.set_password(DEMO_ADMIN[1])
        admin.save()
    finance, created = User.objects.get_or_create(username=DEMO_STAFF[0], defaults={"is_staff": True})
    if created:
        finance.set_password(DEMO_STAFF[1])
        finance.save()
    # The printed finance login holds the Finance group's permissions (admin and API powers alike;
    # is_staff alone only lets it sign in to the admin).
    finance.groups.add(Group.objects.filter(name=FINANCE_GROUP).first() or sync_finance_group())
    demo, _ = User.objects.get_or_create(username=DEMO_API_USER)
    account = account_get_or_create(namespace=DEMO_API_USER, member=demo)
    account_credit(
        account_id=account.pk,
        amount=DEMO_BALANCE,
        idempotency_key="demo:initial-credit",
        subject=("demo", "initial-credit"),
        memo="demo balance",
    )
    token, _ = Token.objects.get_or_create(user=demo)
    _demo_activity(account.pk)
    out.write("billing: users admin, finance, demo; a funded demo wallet")
    return {"token": token.key}


def _demo_activity(account_id: int) -> None:
    """A paid sandbox recharge, a pending one (its pay page works) and some metered calls."""
    account = Account.objects.get(pk=account_id)
    for payment_id, pay in (("DEMO-PAID", True), ("DEMO-PENDING", False)):
        order = RechargeOrder.objects.filter(account=account, payment_id=payment_id).first()
        if order is None:
            order = RechargeOrder.objects.create(
                public_id=new_public_id(),
                account=account,
                amount=Decimal("50.0000"),
                currency=account.currency,
                payment_method="sandbox",
                payment_id=payment_id,
            )
            order.pay_url = f"{settings.PUBLIC_BASE_URL.rstrip('/')}/sandbox/pay/{order.public_id}"
            order.save(update_fields=["pay_url"])
        if pay and order.status == RechargeStatus.PENDING:
            recharge_handle_callback(
                recharge_order_id=order.public_id,
                payment_id=payment_id,
                amount=order.amount,
                status="SUCCESS",
            )
    if MeteredService.objects.filter(service="payment", active=True).exists():
        quota_deduct(account_id=account_id, service="payment", count=120, request_id="demo-metered-1")
