"""Finance resolves a recharge in ``review`` (amount mismatch) from the admin, with a reason:
approve credits the order amount once, reject credits nothing; no callback settles it afterwards."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.db import connections
from django.test import Client

from billing.models import LedgerEntry, RechargeOrder
from billing.recharges import recharge_create, recharge_review_resolve
from billing.signature import sign
from config.exceptions import DomainError
from tests.billing.factories import funded_account, ledger_sum
from tests.conftest import mariadb_only

pytestmark = pytest.mark.django_db
CALLBACK = "/internal/v1/billing/callback"
CHANGELIST = "/admin/billing/rechargeorder/"


def callback(order: RechargeOrder, amount: str) -> Any:
    body = json.dumps(
        {"recharge_order_id": order.public_id, "payment_id": "PAY-1", "amount": amount, "status": "SUCCESS"}
    ).encode()
    return Client().post(
        CALLBACK, data=body, content_type="application/json", HTTP_X_TALLY_SIGNATURE=sign(body)
    )


@pytest.fixture
def reviewed() -> RechargeOrder:
    order = recharge_create(
        account=funded_account("acme", "0"), amount="50.00", currency="CNY", payment_method="sandbox"
    )
    assert callback(order, "49.99").json()["code"] == 190302
    order.refresh_from_db()
    assert order.status == "review"
    return order


def act(client: Client, action: str, order: RechargeOrder, reason: str) -> Any:
    data = {"action": action, "_selected_action": [order.pk], "tally_confirm": "1", "reason": reason}
    return client.post(CHANGELIST, data, follow=True)


def test_finance_approves_a_review_and_the_order_amount_is_credited_once(
    finance_client, finance_user, reviewed
):
    page = finance_client.get(CHANGELIST)
    assert b"approve_reviewed_recharges" in page.content
    act(finance_client, "approve_reviewed_recharges", reviewed, "bank statement shows 50.00")
    reviewed.refresh_from_db()
    account = reviewed.account
    assert reviewed.status == "success" and reviewed.ledger_entry is not None
    assert reviewed.ledger_entry.amount == Decimal("50") and reviewed.ledger_entry.actor == finance_user
    assert "bank statement shows 50.00" in reviewed.ledger_entry.memo
    event = reviewed.events.order_by("-id").first()
    assert (event.from_status, event.to_status) == ("review", "success")
    assert "fiona" in event.note and "bank statement" in event.note
    assert LogEntry.objects.filter(
        object_id=str(reviewed.pk), change_message__contains="bank statement"
    ).exists()
    # again from the admin, or a late callback: nothing more
    response = act(finance_client, "approve_reviewed_recharges", reviewed, "twice")
    assert b"not in review" in response.content
    assert callback(reviewed, "50.00").json()["code"] in (0, 190302)
    account.refresh_from_db()
    assert account.balance == Decimal("50") == ledger_sum(account)
    assert LedgerEntry.objects.filter(account=account).count() == 1


def test_reject_credits_nothing_and_no_later_callback_settles_it(finance_client, reviewed):
    act(finance_client, "reject_reviewed_recharges", reviewed, "customer paid 49.99 by mistake; refunded")
    reviewed.refresh_from_db()
    assert reviewed.status == "failed" and reviewed.ledger_entry is None
    assert callback(reviewed, "50.00").json()["code"] == 190302  # was in review: staff only
    reviewed.refresh_from_db()
    assert reviewed.status == "failed"
    assert not LedgerEntry.objects.filter(account=reviewed.account).exists()


def test_the_reason_is_mandatory_and_staff_without_adjust_permission_cannot_resolve(
    finance_client, reviewed, make_user
):
    page = act(finance_client, "approve_reviewed_recharges", reviewed, "   ")
    assert page.status_code == 200 and b"This field is required" in page.content
    reviewed.refresh_from_db()
    assert reviewed.status == "review"
    viewer = make_user("viewer", staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_rechargeorder"))
    client = Client()
    client.force_login(viewer)
    assert b"approve_reviewed_recharges" not in client.get(CHANGELIST).content
    with pytest.raises(DomainError):
        recharge_review_resolve(recharge_pk=reviewed.pk, approve=True, reason="", actor=viewer)


def test_only_orders_in_review_can_be_resolved(finance_user):
    pending = recharge_create(
        account=funded_account("acme", "0"), amount="10.00", currency="CNY", payment_method="sandbox"
    )
    with pytest.raises(DomainError):
        recharge_review_resolve(recharge_pk=pending.pk, approve=True, reason="why not", actor=finance_user)
    pending.refresh_from_db()
    assert pending.status == "pending"


@mariadb_only
@pytest.mark.django_db(transaction=True)
def test_two_staff_approving_at_once_credit_once(finance_group, django_user_model):
    order = recharge_create(
        account=funded_account("acme", "0"), amount="50.00", currency="CNY", payment_method="sandbox"
    )
    assert callback(order, "1.00").json()["code"] == 190302
    staff = django_user_model.objects.create_user(username="s1", is_staff=True)
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def approve() -> None:
        try:
            barrier.wait()
            recharge_review_resolve(recharge_pk=order.pk, approve=True, reason="checked", actor=staff)
            outcomes.append("ok")
        except DomainError:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=approve) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5
    account = RechargeOrder.objects.get(pk=order.pk).account
    assert account.balance == Decimal("50") == ledger_sum(account)
