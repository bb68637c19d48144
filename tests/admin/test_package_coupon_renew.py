"""The package admin renew action applies the order's coupon like every renewal path
(docs/package-orders.md "Coupons"; the other paths: tests/orders/package/test_coupon_renewals.py)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin

from orders.models import PackageOrder, PackageOrderEvent
from orders.package.admin_actions import package_renew
from tests.admin.test_order_actions import PackageAdmin, _post
from tests.orders.package.coupon_box import box_order, funded, make_box, records_of
from tests.orders.package.factories import assert_balanced
from tests.plans.factories import PromotionFactory
from usage.audit import ledger_audit

pytestmark = pytest.mark.django_db


def test_the_admin_renew_action_applies_the_coupon(finance_user: Any) -> None:
    make_box()
    PromotionFactory(code="FOREVER", value=Decimal("10"), components=["box/sys"], duration="forever")
    account = funded("alice")
    order = box_order(account, coupon="FOREVER")
    request = _post(finance_user, reason="customer paid by phone")
    package_renew(PackageAdmin(PackageOrder, admin.site), request, PackageOrder.objects.filter(pk=order.pk))
    renewed = records_of("b-1")[-1]
    assert (renewed.kind, renewed.amount, renewed.discount) == ("renew", Decimal("27"), Decimal("3"))
    event = PackageOrderEvent.objects.get(order=order, reason="renewed")
    assert (event.data["discount"], event.data["note"]) == ("3.0000", "customer paid by phone")
    assert_balanced(account)
    assert ledger_audit() == []
