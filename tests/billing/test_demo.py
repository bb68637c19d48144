from __future__ import annotations

import io

import pytest

from billing import demo
from billing.models import Account, QuotaUsage, RechargeOrder
from tests.billing.factories import ledger_sum

pytestmark = pytest.mark.django_db


def test_demo_load_is_idempotent():
    demo.load(io.StringIO())
    demo.load(io.StringIO())
    acc = Account.objects.get(namespace="demo")
    assert acc.balance == ledger_sum(acc) == 1050
    assert sorted(RechargeOrder.objects.values_list("status", flat=True)) == ["pending", "success"]
    assert QuotaUsage.objects.count() == 1


def test_load_demo_prints_the_balance_left_after_the_sample_orders():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("load_demo", stdout=out)
    acc = Account.objects.get(namespace="demo")
    assert acc.balance < 1050  # the sample orders were paid from the demo wallet
    assert f"demo wallet balance:     {acc.balance} (namespace demo)" in out.getvalue()
