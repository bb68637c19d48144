from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Permission

from billing.models import Account
from billing.services import account_credit, account_get_or_create


def funded_account(namespace: str = "acme", amount: Decimal | str = "0", member: Any = None) -> Account:
    account = account_get_or_create(namespace=namespace, member=member)
    if Decimal(amount) > 0:
        account_credit(account_id=account.pk, amount=Decimal(amount), idempotency_key=f"seed:{namespace}")
    account.refresh_from_db()
    return account


def grant(user: Any, codename: str) -> Any:
    user.user_permissions.add(Permission.objects.get(codename=codename, content_type__app_label="billing"))
    return type(user).objects.get(pk=user.pk)  # fresh object: the permission cache is per instance


def ledger_sum(account: Account) -> Decimal:
    return sum((e.amount for e in account.ledger_entries.all()), Decimal("0"))
