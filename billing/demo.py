"""Demo users, tokens and wallets for ``manage.py load_demo`` (idempotent)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

from billing.services import account_credit, account_get_or_create

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
    demo, _ = User.objects.get_or_create(username=DEMO_API_USER)
    account = account_get_or_create(namespace=DEMO_API_USER, member=demo)
    posting = account_credit(
        account_id=account.pk, amount=DEMO_BALANCE, idempotency_key="demo:initial-credit", memo="demo balance"
    )
    token, _ = Token.objects.get_or_create(user=demo)
    out.write(f"billing: users admin, finance, demo; demo balance {posting.balance}")
    return {"token": token.key}
