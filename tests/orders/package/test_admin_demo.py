"""Admin pages of package orders render what an order created; the demo loads idempotently."""

from __future__ import annotations

import io

import pytest

from orders.models import PackageOrder, ProductInstance
from orders.package.services import package_order_charge
from tests.orders.package.factories import create_order, funded_account, make_catalog

pytestmark = pytest.mark.django_db


def test_admin_order_page_shows_instances_components_bills_and_events(client, make_user):
    make_catalog()
    account = funded_account("alice", "100")
    order = create_order(account).order
    package_order_charge(order_pk=order.pk)
    admin_user = make_user("root", superuser=True)
    client.force_login(admin_user)
    r = client.get("/admin/orders/packageorder/")
    assert r.status_code == 200 and order.order_id in r.content.decode()
    r = client.get(f"/admin/orders/packageorder/{order.pk}/change/")
    html = r.content.decode()
    assert r.status_code == 200
    for text in ("i-1", "postpaid", "next run (job)", "31.2000", "charged", "new"):
        assert text in html
    inst = ProductInstance.objects.get()
    assert client.get(f"/admin/orders/productinstance/{inst.pk}/change/").status_code == 200
    assert client.get("/admin/orders/consumeorder/").status_code == 200


def test_demo_is_idempotent_and_skips_without_the_catalog():
    from orders.package.demo import load

    out = io.StringIO()
    load(out)
    assert "skipped" in out.getvalue()
    from plans.demo import load as load_plans

    load_plans(io.StringIO())
    load(out)
    load(out)
    assert PackageOrder.objects.count() == 2
    assert set(PackageOrder.objects.values_list("status", flat=True)) == {"paid", "unpaid"}
    assert ProductInstance.objects.get(prod_inst_id_ext="demo-ecs-1").status == "running"
