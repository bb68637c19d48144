"""A change page's Save writes only what its form changed (``config.admin_tools.
ChangedFieldsSaveMixin``): a transition committed between the page's read and its save survives,
and a package order's money (promotion, discount) is not an input even for a superuser."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from orders.package.admin import PackageOrderAdmin
from orders.package.models import PackageOrder, PackageOrderStatus
from orders.package.services import package_order_charge
from tests.orders.package.factories import create_order, funded_account, make_catalog

pytestmark = pytest.mark.django_db


def _inputs(html: str) -> set[str]:
    return set(re.findall(r'<(?:input|select|textarea)[^>]* name="([^"]+)"', html))


def test_a_save_keeps_a_transition_committed_after_the_page_read(admin_client: Client, monkeypatch) -> None:
    make_catalog()
    order = create_order(funded_account("alice", "100")).order
    package_order_charge(order_pk=order.pk)
    order.refresh_from_db()
    assert order.status == PackageOrderStatus.PAID
    real_get_object = PackageOrderAdmin.get_object

    def get_object_then_cancel(self, request, object_id, from_field=None):
        obj = real_get_object(self, request, object_id, from_field)
        if request.method == "POST":  # a transition of another process commits after the read
            PackageOrder.objects.filter(pk=order.pk).update(status=PackageOrderStatus.CANCELED)
        return obj

    monkeypatch.setattr(PackageOrderAdmin, "get_object", get_object_then_cancel)
    page = admin_client.get(f"/admin/orders/packageorder/{order.pk}/change/").content.decode()
    assert not {"discount", "promotion", "status", "cost"} & _inputs(page)
    form = {name: "0" for name in _inputs(page) if name.endswith(("TOTAL_FORMS", "INITIAL_FORMS"))}
    form |= {name: "1000" for name in _inputs(page) if name.endswith("MAX_NUM_FORMS")}
    form |= {"instances-TOTAL_FORMS": "0", "consume_orders-TOTAL_FORMS": "0", "_save": "Save"}
    r = admin_client.post(f"/admin/orders/packageorder/{order.pk}/change/", form)
    assert r.status_code == 302, r.content[:800]
    after = PackageOrder.objects.get(pk=order.pk)
    assert after.status == PackageOrderStatus.CANCELED
    assert after.discount == order.discount and after.cost == order.cost == Decimal("31.20")
