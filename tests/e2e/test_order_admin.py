"""The order admins in a real browser (issue 17): renew with a reason, a vehicle order's history as
sentences after pay and cancel, a package order's bills with local periods and money."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing.models import LedgerEntry, LedgerKind
from orders.models import PurchaseOrder
from orders.purchase.services import purchase_order_create
from tests.e2e.conftest import login, screenshot
from tests.orders.purchase.helpers import account_of, assert_ledger, make_plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _choose(page: Any, base: str, changelist: str, query: str, action: str) -> None:
    page.goto(f"{base}/admin/orders/{changelist}/?q={query}")
    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    page.wait_for_selector("#tally-reason-form")


def test_finance_renews_an_order_with_a_reason(
    page: Any, live_server: Any, finance_user: Any, django_user_model: Any
) -> None:
    customer = django_user_model.objects.create_user(username="acme", password="x")
    account = account_of(customer, "500")
    make_plan("vol-50g", "30")
    order = purchase_order_create(
        account=account, creator=customer, region="cn-north-1", plan_id="vol-50g", resource_name="web-prod-1"
    ).order
    login(page, live_server.url, "fiona", "pass-fiona")
    _choose(page, live_server.url, "purchaseorder", "web-prod-1", "renew_purchase_orders")
    page.fill("#id_reason", "customer asked to extend before the holidays")
    button = page.locator("#tally-reason-form input[type=submit]")
    assert button.get_attribute("value") == "Renew order now: charge CNY 30.00"
    screenshot(page, "renew-confirmation")
    button.click()
    assert f"{order.order_id}: renewed (charged CNY 30.00" in page.locator(".messagelist").inner_text()

    charges = LedgerEntry.objects.filter(account=account, kind=LedgerKind.CHARGE).order_by("id")
    assert [c.amount for c in charges] == [Decimal("-30.0000"), Decimal("-30.0000")]
    assert_ledger(account)
    page.goto(f"{live_server.url}/admin/orders/purchaseorder/{order.pk}/change/")
    events = page.locator("#order-events").inner_text()
    assert "renewed 30.00 CNY" in events and "by fiona" in events
    assert "customer asked to extend before the holidays" in events
    page.goto(f"{live_server.url}/admin/orders/purchaseorder/{order.pk}/history/")
    assert "customer asked to extend before the holidays" in page.locator("#change-history").inner_text()


def test_a_vehicle_orders_history_reads_as_sentences(
    page: Any, live_server: Any, finance_user: Any, user: Any
) -> None:
    from orders.vehicle.services import vehicle_order_pay
    from tests.orders.vehicle.factories import fund, make_driver_order

    fund(user, "2000")
    order = make_driver_order(user, summary="1500.00")
    vehicle_order_pay(order_id=order.order_id, actor=user)
    login(page, live_server.url, "fiona", "pass-fiona")
    _choose(page, live_server.url, "vehicleorder", order.order_no, "cancel_vehicle_orders")
    page.fill("#id_reason", "duplicate order, customer called")
    button = page.locator("#tally-reason-form input[type=submit]")
    assert button.get_attribute("value") == "Cancel order and refund CNY 1,500.00"
    button.click()
    assert f"{order.order_no}" in page.locator(".messagelist").inner_text()

    page.goto(f"{live_server.url}/admin/orders/vehicleorder/{order.pk}/change/")
    lines = page.locator("#order-events li").all_inner_texts()
    assert lines[0].startswith("placed") and f"by {user.username}" in lines[0]
    assert lines[1].startswith(f"paid 1,500.00 CNY by {user.username}, ")
    assert lines[2].startswith("canceled, refunded 1,500.00 CNY, rule full by fiona, ")
    assert "duplicate order, customer called" in lines[2]
    assert "{" not in page.locator("#order-events").inner_text()  # no raw JSON
    assert "CNY 1,500.00" in page.locator(".field-payment_money").inner_text()
    screenshot(page, "vehicle-order-history", full_page=True)


def test_a_package_orders_bills(page: Any, live_server: Any, finance_user: Any) -> None:
    from orders.package.services import package_order_charge
    from tests.orders.package.factories import create_order, funded_account, make_catalog

    make_catalog()
    account = funded_account("alice", "100")
    order = create_order(account).order
    package_order_charge(order_pk=order.pk)
    login(page, live_server.url, "fiona", "pass-fiona")
    page.goto(f"{live_server.url}/admin/orders/packageorder/?q={order.order_id}")
    row = page.locator("#result_list tbody tr").first
    assert "CNY 31.20" in row.inner_text()
    page.click(f"#result_list a:text-is('{order.order_id}')")
    page.wait_for_selector(".tally-bills")
    bills = page.locator(".tally-bills").inner_text()
    assert "CST" in bills and "CNY 31.20" in bills and "+00:00" not in bills
    assert "charged 31.20 CNY" in page.locator("#order-events").inner_text()
    screenshot(page, "package-order-bills", full_page=True)
    assert PurchaseOrder.objects.count() == 0
