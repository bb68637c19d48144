from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from billing.models import LedgerEntry
from tests.billing.factories import funded_account, grant, ledger_sum

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(make_user):
    c = Client()
    c.force_login(make_user("root", superuser=True))
    return c


def test_ledger_is_read_only_even_for_superusers(superuser_client):
    acc = funded_account("acme", "5")
    entry = LedgerEntry.objects.get(account=acc)
    assert superuser_client.get("/admin/billing/ledgerentry/").status_code == 200
    assert superuser_client.get("/admin/billing/ledgerentry/add/").status_code == 403
    assert superuser_client.get(f"/admin/billing/ledgerentry/{entry.pk}/delete/").status_code == 403
    r = superuser_client.post(f"/admin/billing/ledgerentry/{entry.pk}/change/", {"amount": "999"})
    assert r.status_code == 403
    entry.refresh_from_db()
    assert entry.amount == Decimal("5")


def test_admin_lists_render(superuser_client):
    funded_account("acme", "5")
    for url in (
        "/admin/billing/account/",
        "/admin/billing/account/?q=acme",
        "/admin/billing/rechargeorder/",
        "/admin/billing/monthlyquota/",
        "/admin/billing/quotausage/",
    ):
        assert superuser_client.get(url).status_code == 200, url


def adjust(client, account, amount, reason="typo fix", token=None):
    url = f"/admin/billing/account/{account.pk}/adjust/"
    if token is None:
        page = client.get(url)
        assert page.status_code == 200
        token = re.search(r'name="token" value="([0-9a-f]+)"', page.content.decode()).group(1)
    return client.post(url, {"amount": amount, "reason": reason, "token": token}), token


def test_manual_adjustment_needs_permission(make_user):
    acc = funded_account("acme", "5")
    staff = make_user("clerk", staff=True)
    c = Client()
    c.force_login(staff)
    assert c.get(f"/admin/billing/account/{acc.pk}/adjust/").status_code == 403
    staff = grant(staff, "adjust_balance")
    assert c.get(f"/admin/billing/account/{acc.pk}/adjust/").status_code == 200


def test_manual_adjustment_writes_entry_with_actor_once_per_form(make_user):
    acc = funded_account("acme", "5")
    staff = grant(make_user("clerk", staff=True), "adjust_balance")
    c = Client()
    c.force_login(staff)
    r, token = adjust(c, acc, "-2.5")
    assert r.status_code == 302
    r, _ = adjust(c, acc, "-2.5", token=token)  # double submit of the same form
    assert r.status_code == 302
    entries = LedgerEntry.objects.filter(account=acc, kind="adjustment")
    assert entries.count() == 1
    e = entries.get()
    assert (e.amount, e.actor, e.memo) == (Decimal("-2.5"), staff, "typo fix")
    acc.refresh_from_db()
    assert acc.balance == Decimal("2.5") == ledger_sum(acc)


@pytest.mark.parametrize(
    ("amount", "reason", "error"),
    [
        ("0", "x", "must not be zero"),
        ("1", "   ", "required"),
        ("abc", "x", "decimal string"),
        ("-100", "x", "insufficient"),
        # Django's DecimalField took these: a typo must not move money
        ("1E+3", "x", "decimal string"),
        ("\u0661\u0662", "x", "decimal string"),  # Arabic-Indic 12
        ("1e400", "x", "decimal string"),
        ("0.00001", "x", "decimal string"),
        ("1,000", "x", "decimal string"),
        ("NaN", "x", "decimal string"),
    ],
)
def test_manual_adjustment_rejects_bad_input(make_user, amount, reason, error):
    acc = funded_account("acme", "5")
    c = Client()
    c.force_login(grant(make_user("clerk", staff=True), "adjust_balance"))
    r, _ = adjust(c, acc, amount, reason=reason)
    assert r.status_code == 200 and error in r.content.decode().lower()
    assert not LedgerEntry.objects.filter(kind="adjustment").exists()


def test_saving_the_account_page_keeps_a_charge_committed_meanwhile(superuser_client, monkeypatch):
    """The change form reads the account, a charge commits, the form saves: the save writes only
    what the form edits (members), never the balance or the ledger count it read before."""
    from billing.account_admin import AccountAdmin
    from billing.models import Account
    from billing.services import account_charge

    acc = funded_account("acme", "10")
    real_get_object = AccountAdmin.get_object

    def get_object_then_charge(self, request, object_id, from_field=None):
        obj = real_get_object(self, request, object_id, from_field)
        if request.method == "POST":  # another worker's charge commits after the form's read
            account_charge(account_id=acc.pk, amount=Decimal("3"), idempotency_key="meanwhile")
        return obj

    monkeypatch.setattr(AccountAdmin, "get_object", get_object_then_charge)
    r = superuser_client.post(f"/admin/billing/account/{acc.pk}/change/", {"members": []})
    assert r.status_code == 302, r.content[:500]
    acc = Account.objects.get(pk=acc.pk)
    assert acc.balance == Decimal("7") == ledger_sum(acc)
    assert acc.ledger_entry_count == 2 == acc.ledger_entries.count()
