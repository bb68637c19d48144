"""Read-only money fields of detail pages read like money, and never become inputs (MoneyDetailMixin)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from orders.package.services import package_order_charge
from tests.orders.package.factories import create_order, funded_account, make_catalog

pytestmark = pytest.mark.django_db


def test_package_order_money_once_as_money_and_never_an_input(
    admin_client: Client, finance_client: Client
) -> None:
    make_catalog()
    order = create_order(funded_account("alice", "100")).order
    package_order_charge(order_pk=order.pk)
    for client in (admin_client, finance_client):
        html = client.get(f"/admin/orders/packageorder/{order.pk}/change/").content.decode()
        assert html.count('class="form-row field-cost_money"') == 1
        assert 'name="cost"' not in html and 'name="amount_payable"' not in html
        assert "CNY 31.20" in html


def test_superuser_still_edits_a_catalog_price(admin_client: Client) -> None:
    from plans.models import MeteredService

    service = MeteredService.objects.create(service="sms", unit_price="0.0500", monthly_free_quota=10)
    html = admin_client.get(f"/admin/plans/meteredservice/{service.pk}/change/").content.decode()
    assert 'name="unit_price"' in html  # editable for a superuser: not swapped


def test_finance_sees_the_catalog_price_as_money(finance_client: Any) -> None:
    from plans.models import MeteredService

    service = MeteredService.objects.create(service="sms", unit_price="0.0500", monthly_free_quota=10)
    html = finance_client.get(f"/admin/plans/meteredservice/{service.pk}/change/").content.decode()
    assert "CNY 0.0500" in html and 'name="unit_price"' not in html
