"""Finance finds and acts in a real browser (issue 17.3): from an account to its ledger and back, the
balance adjustment in the account's History, recharge reviews approved and rejected, and the ledger's
CSV export (it parses; the memo, the currency and the local times are in it)."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from billing.models import LedgerEntry, LedgerKind, RechargeOrder, RechargeStatus
from billing.recharges import recharge_create
from billing.services import account_charge, account_credit, account_get_or_create
from billing.signature import sign
from tests.e2e.conftest import login, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _account() -> Any:
    account = account_get_or_create(namespace="acme")
    account_credit(
        account_id=account.pk, amount=Decimal("1700"), idempotency_key="seed", memo="bank transfer 2291"
    )
    for n, amount in enumerate(("12.30", "4.0042", "0.96")):
        account_charge(
            account_id=account.pk, amount=Decimal(amount), idempotency_key=f"c{n}", memo=f"vol-50g hour {n}"
        )
    return account


def test_adjustment_from_the_account_page_shows_in_its_history(
    page: Any, live_server: Any, finance_user: Any
) -> None:
    account = _account()
    login(page, live_server.url, "fiona", "pass-fiona")
    page.goto(f"{live_server.url}/admin/billing/account/{account.pk}/change/")
    assert page.locator("#recent-entries tbody tr").count() == 4
    assert "CNY 1,682.7358" in page.locator(".field-balance_shown").inner_text()
    screenshot(page, "account", full_page=True)
    page.click("#account-links a.tally-link-billing-ledgerentry")
    page.wait_for_url(f"**/ledgerentry/?account__id__exact={account.pk}")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 4
    page.go_back()

    page.click("text=Adjust balance")
    page.fill("#id_amount", "-12.50")
    page.fill("#id_reason", "goodwill correction INC-42")
    screenshot(page, "adjust-balance")
    page.click("#adjust-form input[type=submit]")
    page.wait_for_selector(".messagelist .success")
    assert "Adjusted acme by CNY -12.50" in page.locator(".messagelist").inner_text()
    entry = LedgerEntry.objects.get(account=account, kind=LedgerKind.ADJUSTMENT)
    assert entry.amount == Decimal("-12.5000") and entry.actor_id == finance_user.pk

    page.click("a.historylink")
    history = page.locator("#change-history").inner_text()
    assert "goodwill correction INC-42" in history and "CNY -12.50" in history and "fiona" in history
    screenshot(page, "account-history")


def _reviewed(account: Any, amount: str, paid: str) -> RechargeOrder:
    order = recharge_create(account=account, amount=amount, currency="CNY", payment_method="sandbox")
    body = json.dumps(
        {
            "recharge_order_id": order.public_id,
            "payment_id": f"PAY-{amount}",
            "amount": paid,
            "status": "SUCCESS",
        }
    ).encode()
    Client().post(
        "/internal/v1/billing/callback",
        data=body,
        content_type="application/json",
        HTTP_X_TALLY_SIGNATURE=sign(body),
    )
    order.refresh_from_db()
    assert order.status == RechargeStatus.REVIEW
    return order


def _resolve(page: Any, base: str, order: RechargeOrder, action: str, reason: str) -> str:
    page.goto(f"{base}/admin/billing/rechargeorder/?review=open")
    page.locator(f"#result_list tr:has-text('{order.public_id}') input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_selector("#tally-reason-form")
    page.fill("#id_reason", reason)
    label = page.locator("#tally-reason-form input[type=submit]").get_attribute("value") or ""
    return label


def test_finance_approves_and_rejects_recharge_reviews(
    page: Any, live_server: Any, finance_user: Any
) -> None:
    account = account_get_or_create(namespace="payer")
    approve = _reviewed(account, "50.00", "49.99")
    reject = _reviewed(account, "80.00", "8.00")
    login(page, live_server.url, "fiona", "pass-fiona")
    page.goto(f"{live_server.url}/admin/billing/rechargeorder/?review=open")
    assert page.locator("#result_list tbody tr").count() == 2
    width = page.locator("#result_list td.field-reason").first.bounding_box()
    assert width is not None and width["width"] > 150  # the reason reads, it is not one character wide
    screenshot(page, "recharge-review")

    label = _resolve(
        page, live_server.url, approve, "approve_reviewed_recharges", "bank statement shows 50.00"
    )
    assert label == "Approve the order: credit CNY 50.00"
    screenshot(page, "recharge-approve-confirmation")
    page.click("#tally-reason-form input[type=submit]")
    assert f"{approve}: approved (credited CNY 50.00)." in page.locator(".messagelist").inner_text()

    label = _resolve(
        page, live_server.url, reject, "reject_reviewed_recharges", "paid 8.00, not 80.00: refunded by bank"
    )
    assert label == "Reject the order: mark failed, credit nothing"
    page.click("#tally-reason-form input[type=submit]")
    assert f"{reject}: rejected (nothing credited)." in page.locator(".messagelist").inner_text()

    approve.refresh_from_db()
    reject.refresh_from_db()
    assert approve.status == RechargeStatus.SUCCESS and reject.status == RechargeStatus.FAILED
    account.refresh_from_db()
    assert account.balance == Decimal("50.0000") == sum(e.amount for e in account.ledger_entries.all())


def test_ledger_csv_export_parses_with_memo_currency_and_local_times(
    page: Any, live_server: Any, finance_user: Any
) -> None:
    _account()
    account_credit(
        account_id=account_get_or_create(namespace="beta").pk, amount=Decimal("5"), idempotency_key="b"
    )
    login(page, live_server.url, "fiona", "pass-fiona")
    page.goto(f"{live_server.url}/admin/billing/ledgerentry/?q=acme")
    assert "CNY -12.30" in page.locator("#result_list").inner_text()
    screenshot(page, "ledger")
    with page.expect_download() as download:
        page.click("a.tally-export-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == 4 and {r["Account"] for r in rows} == {"acme"}
    assert {r["Memo"] for r in rows} == {
        "bank transfer 2291",
        "vol-50g hour 0",
        "vol-50g hour 1",
        "vol-50g hour 2",
    }
    assert sorted(Decimal(r["Amount (CNY)"]) for r in rows) == [
        Decimal("-12.3000"), Decimal("-4.0042"), Decimal("-0.9600"), Decimal("1700.0000")
    ]  # fmt: skip
    assert {r["Currency"] for r in rows} == {"CNY"}
    assert all(len(r["Created at (Asia/Shanghai)"]) == 19 for r in rows)
