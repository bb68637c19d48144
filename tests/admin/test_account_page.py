"""Finance can find and act from an account (issue 17.3): links to everything of the account, the
balance with the last ledger entries inline, and the adjustment in the account's History."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from billing.models import LedgerEntry, LedgerKind
from billing.services import account_charge, account_credit, account_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def account() -> Any:
    account = account_get_or_create(namespace="acme")
    account_credit(account_id=account.pk, amount=Decimal("100"), idempotency_key="k1", memo="first top-up")
    for n in range(12):
        account_charge(account_id=account.pk, amount=Decimal("1.25"), idempotency_key=f"c{n}")
    return account


def test_account_page_links_everything_and_shows_the_last_entries(
    finance_client: Client, account: Any
) -> None:
    html = finance_client.get(f"/admin/billing/account/{account.pk}/change/").content.decode()
    for path in (
        "billing/ledgerentry",
        "orders/purchaseorder",
        "orders/packageorder",
        "orders/vehicleorder",
        "billing/rechargeorder",
        "usage/usagerecord",
        "billing/monthlyquota",
    ):
        assert f"/admin/{path}/?account__id__exact={account.pk}" in html, path
    assert "CNY 85.00" in html  # the balance
    table = html[html.index('id="recent-entries"') :]
    assert table.count("CNY -1.25") == 10  # the last ten entries, newest first
    assert "first top-up" not in table
    # every link opens a filtered list (the lookup is allowed)
    for path in ("orders/purchaseorder", "usage/usagerecord", "billing/ledgerentry", "billing/monthlyquota"):
        response = finance_client.get(f"/admin/{path}/?account__id__exact={account.pk}")
        assert response.status_code == 200, path  # a refused lookup redirects to ?e=1


def test_ledger_link_filters_to_the_account(finance_client: Client, account: Any) -> None:
    other = account_get_or_create(namespace="beta")
    account_credit(account_id=other.pk, amount=Decimal("5"), idempotency_key="b1")
    response = finance_client.get(f"/admin/billing/ledgerentry/?account__id__exact={account.pk}")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 13


def test_adjustment_writes_a_log_entry_shown_in_history(
    finance_client: Client, finance_user: Any, account: Any
) -> None:
    url = f"/admin/billing/account/{account.pk}/adjust/"
    token = finance_client.get(url).context["form"].initial["token"]
    data = {"amount": "-12.50", "reason": "goodwill correction INC-42", "token": token}
    response = finance_client.post(url, data, follow=True)
    assert "Adjusted acme by CNY -12.50; balance CNY 72.50." in response.content.decode()
    finance_client.post(url, data)  # a re-post adjusts (and logs) nothing more
    entry = LedgerEntry.objects.get(account=account, kind=LedgerKind.ADJUSTMENT)
    log = LogEntry.objects.get()
    assert log.user_id == finance_user.pk and log.object_id == str(account.pk)
    assert (
        "CNY -12.50 " in log.get_change_message() and "goodwill correction INC-42" in log.get_change_message()
    )
    assert f"ledger entry {entry.pk}" in log.get_change_message()
    history = finance_client.get(f"/admin/billing/account/{account.pk}/history/").content.decode()
    assert "goodwill correction INC-42" in history
