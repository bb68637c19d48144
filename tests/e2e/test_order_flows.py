"""A finance user finds a purchase order by resource name, cancels it with a reason (and a refund of
the unused days), and sees the event in the order's history; then exports the filtered list."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from billing.models import LedgerEntry, LedgerKind
from orders.models import PurchaseOrder, PurchaseOrderStatus
from orders.purchase.services import purchase_order_create
from tests.e2e.conftest import login, screenshot
from tests.orders.purchase.helpers import account_of, assert_ledger, make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _orders(django_user_model: Any) -> PurchaseOrder:
    customer = django_user_model.objects.create_user(username="acme", password="x")
    account = account_of(customer, "500")
    make_plan("vol-50g", "30")
    created = [
        purchase_order_create(
            account=account, creator=customer, region="cn-north-1", plan_id="vol-50g", resource_name=name
        ).order
        for name in ("web-prod-1", "web-staging", "db-main")
    ]
    return created[0]


def test_finance_user_cancels_an_order_with_a_reason(
    page: Any, live_server: Any, finance_user: Any, django_user_model: Any
) -> None:
    order = _orders(django_user_model)
    login(page, live_server.url, "fiona", "pass-fiona")
    page.goto(f"{live_server.url}/admin/orders/purchaseorder/")
    page.fill("#searchbar", "web-prod-1")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**/purchaseorder/?q=web-prod-1")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    rows.first.locator("input.action-select").check()
    page.select_option("select[name=action]", "cancel_purchase_orders")
    page.click("button[name=index]")

    page.wait_for_selector("#tally-reason-form")
    assert "web-prod-1" in page.content() or order.order_id in page.content()
    page.fill("#id_reason", "customer moved to another region")
    buttons = page.locator("#tally-reason-form button.tally-choice")
    assert buttons.count() == 2  # each button says what it does; never a bare "Cancel"
    assert buttons.nth(0).inner_text().startswith("Cancel order and refund CNY ")
    assert buttons.nth(1).inner_text() == "Cancel order, no refund"
    screenshot(page, "cancel-confirmation")
    buttons.nth(0).click()
    page.wait_for_selector(".messagelist")
    assert f"{order.order_id}: canceled (refunded" in page.locator(".messagelist").inner_text()

    order.refresh_from_db()
    assert order.status == PurchaseOrderStatus.ENDED
    event = order.events.order_by("id").last()
    assert event.actor_id == finance_user.pk and event.data["note"] == "customer moved to another region"
    refund = LedgerEntry.objects.get(account=order.account, kind=LedgerKind.REFUND)
    assert refund.amount == Decimal(event.data["refund"]) > 0
    assert_ledger(order.account)
    others = PurchaseOrder.objects.exclude(pk=order.pk).values_list("status", flat=True)
    assert set(others) == {PurchaseOrderStatus.CONSUMING}

    page.goto(f"{live_server.url}/admin/orders/purchaseorder/{order.pk}/change/")
    history = page.content()
    assert "customer moved to another region" in history and "fiona" in history
    screenshot(page, "order-history", full_page=True)

    # the admin history (LogEntry) names the action and the reason
    page.goto(f"{live_server.url}/admin/orders/purchaseorder/{order.pk}/history/")
    assert "customer moved to another region" in page.locator("#change-history").inner_text()


def test_filtered_changelist_exports_csv(
    page: Any, live_server: Any, finance_user: Any, django_user_model: Any
) -> None:
    _orders(django_user_model)
    login(page, live_server.url, "fiona", "pass-fiona")
    page.goto(f"{live_server.url}/admin/orders/purchaseorder/?q=web")
    with page.expect_download() as download:
        page.click("a.tally-export-csv")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    lines = body.strip().splitlines()
    assert len(lines) == 3  # header + the two "web-*" orders, not db-main
    assert "db-main" not in body
