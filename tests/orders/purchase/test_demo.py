from __future__ import annotations

import io

import pytest

from orders.models import PurchaseOrder
from orders.purchase import demo
from tests.orders.purchase.helpers import assert_ledger, make_plan

pytestmark = pytest.mark.django_db


def test_demo_skips_without_plans_and_is_idempotent():
    out = io.StringIO()
    demo.load(out)
    assert "skipped" in out.getvalue() and PurchaseOrder.objects.count() == 0
    make_plan("vol-50g", "30")
    make_plan("vol-100g", "50")
    demo.load(io.StringIO())
    demo.load(io.StringIO())
    assert PurchaseOrder.objects.count() == 3
    assert PurchaseOrder.objects.filter(status=5).count() == 2
    assert_ledger(PurchaseOrder.objects.first().account)
